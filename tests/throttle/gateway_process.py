"""The loopback MLflow gateway (``mlflow.testing.GatewayServer``) in a process of its own, as
a real gateway would be: the tests' threads and loops cannot delay its clock or its windows.

``python tests/throttle/gateway_process.py '<endpoints JSON>'`` prints its port, then serves the
gateway's routes plus ``GET /_test/record`` (each invocation's arrival, ``time.monotonic()``
(one clock for every process), path and first message; the 429 count) and ``POST
/_test/inject`` (a ``Fault``'s fields as JSON) until its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mlflow.testing import GatewayEndpoint, GatewayServer  # noqa: E402


class RecordingGateway(GatewayServer):
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/_test/record", self._record)
        app.router.add_post("/_test/inject", self._inject)
        super()._add_routes(app)

    async def _record(self, request: web.Request) -> web.Response:
        calls = []
        for r in self.requests_to("/endpoints/*/invocations", "POST"):
            try:
                tag = r.json()["messages"][0]["content"]
            except Exception:
                tag = None
            calls.append({"at": r.timestamp, "path": r.path, "tag": tag})
        return web.json_response({"calls": calls, "rejected": self.rejected})

    async def _inject(self, request: web.Request) -> web.Response:
        self.inject(**(await request.json()))
        return web.json_response({})


async def _serve(endpoints: list[dict]) -> None:
    server = RecordingGateway([GatewayEndpoint(**e) for e in endpoints])
    await server.start()
    print(server.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop()


if __name__ == "__main__":
    asyncio.run(_serve(json.loads(sys.argv[1])))
