"""A handle on ``gateway_process.py``: the loopback gateway in its own process."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any


class GatewayProcess:
    """Starts the gateway with ``endpoints`` (``GatewayEndpoint`` fields as dicts)."""

    def __init__(self, endpoints: list[dict[str, Any]]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("gateway_process.py"))]
            + [json.dumps(endpoints)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.strip():
            self.close()
            raise RuntimeError("the gateway process did not start")
        self.port = int(line)
        self.base_url = f"http://127.0.0.1:{self.port}"

    def _call(self, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def record(self) -> dict[str, Any]:
        return self._call("/_test/record")

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        calls = self.record()["calls"]
        return [c for c in calls if path is None or c["path"] == path]

    def arrivals(self, path: str | None = None) -> list[float]:
        return sorted(c["at"] for c in self.calls(path))

    @property
    def rejected(self) -> int:
        return self.record()["rejected"]

    def inject(self, **fault: Any) -> None:
        self._call("/_test/inject", fault)

    def close(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
