"""Cross-worker invalidation through the rate-limit store's Redis: a worker that writes publishes
on a channel, every worker subscribed drops its serving cache at once. The database's version
counter is still polled (less often) as a safety net: a lost message delays a change, never
loses it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

_logger = logging.getLogger("mlflow.gateway.server")

CHANNEL = "mlflow:gateway:db-config"


def is_redis_uri(uri: str) -> bool:
    return uri.split("://", 1)[0] in ("redis", "rediss", "unix")


class RedisNotifier:
    def __init__(self, client, pubsub, on_change: Callable[[], None]) -> None:
        self._client = client
        self._pubsub = pubsub
        self._on_change = on_change
        self._tasks: set[asyncio.Task] = set()
        self._listener: asyncio.Task | None = None

    def __repr__(self) -> str:  # the URI may carry a password: never shown
        return "RedisNotifier()"

    @classmethod
    async def start(cls, uri: str, on_change: Callable[[], None]) -> RedisNotifier | None:
        if not is_redis_uri(uri):
            return None
        import redis.asyncio as redis

        client = redis.from_url(uri)
        pubsub = client.pubsub()
        await pubsub.subscribe(CHANNEL)
        notifier = cls(client, pubsub, on_change)
        notifier._listener = asyncio.create_task(notifier._listen())
        return notifier

    async def _listen(self) -> None:
        try:
            async for message in self._pubsub.listen():
                if message.get("type") == "message":
                    self._on_change()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - polling still propagates changes
            _logger.warning(
                "Gateway config notifications stopped (%s); polling the database", type(e).__name__
            )

    def publish_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self._publish())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self) -> None:
        try:
            await self._client.publish(CHANNEL, b"changed")
        except Exception as e:  # noqa: BLE001 - polling still propagates changes
            _logger.warning("Could not publish a gateway config change (%s)", type(e).__name__)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._pubsub.aclose()
        await self._client.aclose()
