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
        validate: Callable[[GatewayConfig], None] | None = None,
    ) -> None:
        self.path = path
        self.validate = validate
        self.holder = holder
        self.build = build
        self.interval = interval
        self.last = stamp(path)
        self.reloads = 0
        self.failures = 0
        self._task: asyncio.Task | None = None

    def load_if_changed(self) -> GatewayConfig | None:
        """The file's new configuration, validated, if its content changed (else None). Blocking
        (file I/O, and ``validate`` may resolve names): run it off the loop."""
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        last = self.last
        if last is not None and (info.st_mtime_ns, info.st_size) == (last.mtime_ns, last.size):
            return None
        current = stamp(self.path)
        if current is None:
            return None
        self.last = current
        if last is not None and current.digest == last.digest:
            return None
        try:
            config = _load_gateway_config(self.path)
            if self.validate is not None:
                self.validate(config)
        except MlflowException as e:
            self._refused(e.message)
            return None
        return config

    def apply(self, config: GatewayConfig) -> bool:
        """Build the providers of ``config`` (on the serving loop) and swap it in."""
        try:
            runtime = self.build(config)
        except MlflowException as e:
            self._refused(e.message)
            return False
        except Exception as e:  # noqa: BLE001 - a provider that cannot be built, say
            self._refused(f"({type(e).__name__})")
            return False
        self.holder.swap(runtime)
        self.reloads += 1
        names = ", ".join(e.name for e in runtime.config.endpoints)
        _logger.info("Reloaded the gateway configuration %s: endpoints %s", self.path, names)
        return True

    def _refused(self, reason: str) -> None:
        self.failures += 1
        _logger.error(
            "The gateway configuration %s was changed but is invalid; still serving the previous "
            "configuration. %s", self.path, reason,
        )

    def check(self) -> bool:
        """Reload if the file changed; True when a new configuration was swapped in."""
        config = self.load_if_changed()
        return config is not None and self.apply(config)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                config = await asyncio.to_thread(self.load_if_changed)
                if config is not None:
                    self.apply(config)
            except Exception as e:  # noqa: BLE001 - the watcher must outlive any one bad check
                _logger.error("Config reload check failed (%s)", type(e).__name__)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
