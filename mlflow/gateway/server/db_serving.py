"""What the database-backed serving routes resolve an endpoint name to, cached per process and
dropped when the database's config version moves.

Freshness across workers: every write bumps ``config_version`` in the database. A worker checks
it at most every ``poll_interval`` seconds (on a request's arrival, one small SELECT), so a
change reaches every worker well within a second. With a Redis rate-limit store configured, a
write also publishes on a channel and every subscribed worker drops its cache at once."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from async_core import AsyncClient
from mlflow.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, MlflowException
from mlflow.gateway.server.db_providers import endpoint_config
from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.runtime import Destination, Target
from mlflow.gateway.server.traffic import Cooldowns, TrafficSplit
from mlflow.gateway.server.upstream import budget_policy
from mlflow.store.gateway.sqlalchemy_store import GatewayStore, ResolvedEndpoint, ResolvedModel

DEFAULT_POLL_INTERVAL = 0.25


def no_models_error(name: str) -> MlflowException:
    return MlflowException(
        f"Endpoint '{name}' has no models configured", error_code=RESOURCE_DOES_NOT_EXIST
    )


def weighted_order(models: list[Any], weights: list[float], rng: random.Random) -> list[Any]:
    """One model drawn by weight first, then every other in stored order (the fallbacks)."""
    positive = [(m, w) for m, w in zip(models, weights, strict=True) if w > 0]
    if not positive:
        return list(models)
    first = rng.choices([m for m, _ in positive], weights=[w for _, w in positive])[0]
    return [first, *(m for m in models if m is not first)]


class DbServing:
    def __init__(
        self,
        store: GatewayStore,
        client: AsyncClient,
        options: ServerOptions,
        *,
        rng: random.Random | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.client = client
        self.options = options
        self.rng = rng or random.Random()
        self.poll_interval = poll_interval
        self._clock = clock
        self._version: int | None = None
        self._checked_at = float("-inf")
        self._dirty = False
        self._lock = asyncio.Lock()
        # Entries hold decrypted credentials: they live no longer than the secrets cache's TTL.
        self.max_age = float(store.secrets_cache.ttl)
        self._targets: dict[tuple[str, str], tuple[float, Target]] = {}
        self._resolved: dict[str, tuple[float, ResolvedEndpoint]] = {}
        self.policy = budget_policy(options.retry_budget_seconds)

    def invalidate(self) -> None:
        """Drop the caches before the next request (a write here, or a Redis notice)."""
        self._dirty = True

    async def _fresh(self) -> None:
        if not self._dirty and self._clock() - self._checked_at < self.poll_interval:
            return
        async with self._lock:
            if not self._dirty and self._clock() - self._checked_at < self.poll_interval:
                return
            self._dirty = False
            version = await self.store.config_version()
            self._checked_at = self._clock()
            if version != self._version:
                self._version = version
                self._targets.clear()
                self._resolved.clear()

    async def resolved(self, name: str) -> ResolvedEndpoint:
        await self._fresh()
        resolved = self._fresh_entry(self._resolved, name)
        if resolved is None:
            resolved = await self.store.resolve_endpoint(name)
            self._resolved[name] = (self._clock(), resolved)
        if not resolved.models:
            raise no_models_error(name)
        return resolved

    async def target(self, name: str, endpoint_type: str) -> Target:
        """A traffic split over the endpoint's models: one drawn by weight, the others as
        fallbacks tried in order when it fails before its first byte."""
        resolved = await self.resolved(name)
        key = (name, endpoint_type)
        target = self._fresh_entry(self._targets, key)
        if target is not None:
            return target
        entries = [
            (m.mapping_id, self._destination(name, endpoint_type, m), m.weight)
            for m in resolved.models
        ]
        split = TrafficSplit(
            weighted=entries,
            fallbacks=[(mapping_id, destination) for mapping_id, destination, _ in entries],
            cooldowns=Cooldowns(
                threshold=self.options.fallback_failure_threshold,
                seconds=self.options.fallback_cooldown_seconds,
            ),
            rng=self.rng,
        )
        target = Target(name, endpoint_type, split=split)
        self._targets[key] = (self._clock(), target)
        return target

    def _fresh_entry(self, cache: dict, key: Any) -> Any:
        entry = cache.get(key)
        if entry is None:
            return None
        if self._clock() - entry[0] >= self.max_age:
            del cache[key]
            return None
        return entry[1]

    def _destination(self, name: str, endpoint_type: str, model: ResolvedModel) -> Destination:
        from mlflow.gateway.providers import build_provider

        config = endpoint_config(name, endpoint_type, model)
        options: dict[str, Any] = {"attempt_timeout": self.options.upstream_timeout}
        api_base = model.auth_config.get("api_base")
        if api_base and model.auth_config.get("api_type") not in ("azure", "azuread"):
            # auth_config's api_base reaches providers whose config has no base-URL field.
            options["api_base"] = str(api_base)
        try:
            provider = build_provider(config, self.client, self.policy, **options)
        except ValueError as e:
            raise MlflowException(str(e), error_code=INVALID_PARAMETER_VALUE) from None
        return Destination(name, config, provider, model.provider)
