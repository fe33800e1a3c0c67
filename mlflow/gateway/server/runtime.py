"""The live configuration: endpoints with their built providers, and traffic routes over them.

A ``Runtime`` is immutable once built; a reload builds a new one and swaps it in the
``RuntimeHolder``. A request takes the runtime current when it starts and keeps it, so a reload
never changes (or breaks) a request in flight."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from async_core import AsyncClient, RetryPolicy
from mlflow.exceptions import MlflowException
from mlflow.gateway.config import EndpointConfig, GatewayConfig, Provider
from mlflow.gateway.providers.base import BaseProvider
from mlflow.gateway.server.options import ServerOptions
from mlflow.gateway.server.traffic import Cooldowns, TrafficSplit
from mlflow.gateway.server.upstream import budget_policy

#: Builds the provider of one endpoint: (endpoint config, the process's client, its policy).
ProviderFactory = Callable[[EndpointConfig, AsyncClient, RetryPolicy], BaseProvider]


def provider_name(endpoint: EndpointConfig) -> str:
    provider = endpoint.model.provider
    return provider.value if isinstance(provider, Provider) else str(provider)


@dataclass(frozen=True)
class Destination:
    name: str
    endpoint: EndpointConfig
    provider: BaseProvider
    provider_name: str


@dataclass(frozen=True)
class Target:
    """What a name in a URL or a ``model`` field resolves to: one endpoint or a traffic route."""

    name: str
    endpoint_type: str
    destination: Destination | None = None
    split: TrafficSplit[Destination] | None = None

    def candidates(self) -> list[tuple[str, Destination]]:
        if self.destination is not None:
            return [(self.destination.name, self.destination)]
        assert self.split is not None
        return self.split.candidates()

    @property
    def cooldowns(self) -> Cooldowns | None:
        return None if self.split is None else self.split.cooldowns


@dataclass(frozen=True)
class Runtime:
    config: GatewayConfig
    targets: dict[str, Target] = field(default_factory=dict)
    #: Whether any endpoint has a ``limit`` (without one, the rate-limit layer skips requests).
    has_limits: bool = True

    @property
    def endpoints(self) -> list[EndpointConfig]:
        return list(self.config.endpoints)

    def endpoint(self, name: str) -> EndpointConfig | None:
        target = self.targets.get(name)
        if target is None or target.destination is None:
            return None
        return target.destination.endpoint

    def resolve(self, name: str) -> Target | None:
        return self.targets.get(name)


class RuntimeHolder:
    """The current runtime of a process (replaced whole on reload)."""

    def __init__(self, runtime: Runtime) -> None:
        self.current = runtime
        self.generation = 0

    def swap(self, runtime: Runtime) -> None:
        self.current = runtime
        self.generation += 1


def _endpoint_budget(endpoint: EndpointConfig, options: ServerOptions) -> float:
    budget = getattr(endpoint, "retry_budget_seconds", None)
    return options.retry_budget_seconds if budget is None else float(budget)


def build_runtime(
    config: GatewayConfig,
    factory: ProviderFactory,
    client: AsyncClient,
    options: ServerOptions,
) -> Runtime:
    """Build every provider now, so an endpoint the server cannot serve fails at start-up (or
    the reload is refused) with the factory's message, never at the first request."""
    targets: dict[str, Target] = {}
    destinations: dict[str, Destination] = {}
    for endpoint in config.endpoints:
        provider = factory(endpoint, client, budget_policy(_endpoint_budget(endpoint, options)))
        if options.upstream_timeout is not None and hasattr(provider, "attempt_timeout"):
            provider.attempt_timeout = options.upstream_timeout
        endpoint_type = endpoint.endpoint_type.value
        supported = getattr(provider, "SUPPORTED_ROUTE_TYPES", ())
        if supported and endpoint_type not in supported:
            raise MlflowException.invalid_parameter_value(
                f"The endpoint '{endpoint.name}' has endpoint_type '{endpoint_type}', which the "
                f"provider '{provider_name(endpoint)}' does not serve. It serves: "
                f"{', '.join(supported)}."
            )
        destination = Destination(endpoint.name, endpoint, provider, provider_name(endpoint))
        destinations[endpoint.name] = destination
        targets[endpoint.name] = Target(endpoint.name, endpoint_type, destination=destination)
    for route in config.routes or []:
        task_type = route.task_type.value
        weighted = [
            (d.name, destinations[d.name], d.traffic_percentage) for d in route.destinations
        ]
        fallbacks = []
        for name in getattr(route, "fallbacks", None) or []:
            destination = destinations.get(name)
            if destination is None or destination.endpoint.endpoint_type.value != task_type:
                raise MlflowException.invalid_parameter_value(
                    f"The fallback '{name}' of route '{route.name}' must name an endpoint of "
                    f"type '{task_type}'."
                )
            fallbacks.append((name, destination))
        split = TrafficSplit(
            weighted=weighted,
            fallbacks=fallbacks,
            cooldowns=Cooldowns(
                threshold=options.fallback_failure_threshold,
                seconds=options.fallback_cooldown_seconds,
            ),
        )
        targets[route.name] = Target(route.name, task_type, split=split)
    has_limits = any(getattr(e, "limit", None) is not None for e in config.endpoints)
    return Runtime(config=config, targets=targets, has_limits=has_limits)
