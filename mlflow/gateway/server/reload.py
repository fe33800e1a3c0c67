"""Hot reload of the configuration file while serving.

Every ``reload_interval`` seconds the file's mtime and size are checked; when they change, its
bytes are hashed and, if the content changed, the file is loaded and every provider built. Only
a configuration that loads completely replaces the live one; otherwise the old one keeps serving
and the reason is logged (the loader's messages never quote a key). Requests in flight keep the
runtime they started with."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.gateway.config import GatewayConfig, _load_gateway_config
from mlflow.gateway.server.runtime import Runtime, RuntimeHolder

_logger = logging.getLogger("mlflow.gateway.server")


@dataclass
class FileStamp:
    mtime_ns: int
    size: int
    digest: str


def stamp(path: str) -> FileStamp | None:
    try:
        info = os.stat(path)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None
    return FileStamp(info.st_mtime_ns, info.st_size, digest)


class ConfigWatcher:
    def __init__(
        self,
        path: str,
        holder: RuntimeHolder,
        build: Callable[[GatewayConfig], Runtime],
        interval: float,
    ) -> None:
        self.path = path
        self.holder = holder
        self.build = build
        self.interval = interval
        self.last = stamp(path)
        self.reloads = 0
        self.failures = 0
        self._task: asyncio.Task | None = None

    def check(self) -> bool:
        """Reload if the file changed; True when a new configuration was swapped in."""
        try:
            info = os.stat(self.path)
        except OSError:
            return False
        last = self.last
        if last is not None and (info.st_mtime_ns, info.st_size) == (last.mtime_ns, last.size):
            return False
        current = stamp(self.path)
        if current is None:
            return False
        self.last = current
        if last is not None and current.digest == last.digest:
            return False
        try:
            runtime = self.build(_load_gateway_config(self.path))
        except MlflowException as e:
            self.failures += 1
            _logger.error(
                "The gateway configuration %s was changed but is invalid; still serving the "
                "previous configuration. %s", self.path, e.message,
            )
            return False
        except Exception as e:  # noqa: BLE001 - a provider that cannot be built, say
            self.failures += 1
            _logger.error(
                "The gateway configuration %s was changed but could not be applied (%s); still "
                "serving the previous configuration.", self.path, type(e).__name__,
            )
            return False
        self.holder.swap(runtime)
        self.reloads += 1
        names = ", ".join(e.name for e in runtime.config.endpoints)
        _logger.info("Reloaded the gateway configuration %s: endpoints %s", self.path, names)
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            # On the loop: a stat per interval, and a parse only when the file changed (a few
            # milliseconds); providers are built on the loop that will use them.
            self._check_guarded()

    def _check_guarded(self) -> None:
        try:
            self.check()
        except Exception as e:  # noqa: BLE001 - the watcher must outlive any one bad check
            _logger.error("Config reload check failed (%s)", type(e).__name__)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
