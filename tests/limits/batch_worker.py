"""One batch worker process: ``python batch_worker.py URL ENDPOINT COUNT TAG [STORAGE_URI]``.

Runs ``apredict_batch`` (concurrency 16) against the gateway at URL and prints one JSON line:
``{"ok": n, "failed": n}``. The shared store comes from ``STORAGE_URI`` passed to
``throttle_storage`` or, when absent, from ``MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mlflow.deployments import get_deploy_client  # noqa: E402
from mlflow.utils.throttling import throttle_storage  # noqa: E402


async def main(url: str, endpoint: str, count: int, tag: str, storage: str | None) -> None:
    client = get_deploy_client(url)
    inputs = [{"messages": [{"role": "user", "content": f"{tag}-{i}"}]} for i in range(count)]
    with throttle_storage(storage):
        results = await client.apredict_batch(endpoint, inputs, concurrency=16, progress=False)
    ok = sum(r.ok for r in results)
    errors = sorted({type(r.error).__name__ for r in results if not r.ok})
    print(json.dumps({"ok": ok, "failed": len(results) - ok, "errors": errors}), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], int(args[2]), args[3], args[4] if len(args) > 4 else None))
