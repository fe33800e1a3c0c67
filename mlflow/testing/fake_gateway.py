"""The real gateway server in front of the packaged provider fakes: endpoint configs for them,
and an embedded gateway that sends chosen providers to a loopback fake.

    from mlflow.testing import OpenAIServer
    from mlflow.testing.fake_gateway import FakeUpstreamGateway, anthropic_endpoint, openai_endpoint
    from mlflow.testing.providers.anthropic import AnthropicFake

    with OpenAIServer().running() as openai_url, AnthropicFake().running() as anthropic_url:
        config = {"endpoints": [
            openai_endpoint("chat", "llm/v1/chat", "gpt-4o-mini", openai_url + "/v1"),
            anthropic_endpoint("claude", "claude-sonnet-4-5"),
        ]}
        with FakeUpstreamGateway(config, api_bases={"anthropic": anthropic_url + "/v1"}
                                 ).running() as url:
            ...

Some providers' configs have no base-URL field (Anthropic's, as in MLflow), so a YAML file
cannot point them at a fake; ``api_bases`` does it through the server's provider factory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from mlflow.exceptions import MlflowException
from mlflow.gateway.server.embedded import EmbeddedGateway

__all__ = ["FakeUpstreamGateway", "anthropic_endpoint", "openai_endpoint"]


def _limit(calls: int | None, renewal_period: str) -> dict[str, Any]:
    return {} if calls is None else {"limit": {"calls": calls, "renewal_period": renewal_period}}


def openai_endpoint(
    name: str,
    endpoint_type: str,
    model: str,
    api_base: str,
    api_key: str = "sk-test-key",
    *,
    calls: int | None = None,
    renewal_period: str = "second",
) -> dict[str, Any]:
    """An endpoint served by the OpenAI provider at ``api_base`` (``OpenAIServer().api_base``)."""
    return {
        "name": name,
        "endpoint_type": endpoint_type,
        "model": {"provider": "openai", "name": model,
                  "config": {"openai_api_key": api_key, "openai_api_base": api_base}},
        **_limit(calls, renewal_period),
    }


def anthropic_endpoint(
    name: str,
    model: str,
    api_key: str = "test-key",
    *,
    calls: int | None = None,
    renewal_period: str = "second",
) -> dict[str, Any]:
    """A chat endpoint served by the Anthropic provider (``AnthropicFake``'s default key)."""
    return {
        "name": name,
        "endpoint_type": "llm/v1/chat",
        "model": {"provider": "anthropic", "name": model,
                  "config": {"anthropic_api_key": api_key}},
        **_limit(calls, renewal_period),
    }


def _redirecting_factory(api_bases: Mapping[str, str]):
    from mlflow.gateway.providers import build_provider
    from mlflow.gateway.server.app import default_provider_factory

    default = default_provider_factory()

    def build(endpoint, client, policy):
        provider = endpoint.model.provider
        api_base = api_bases.get(str(getattr(provider, "value", provider)))
        if api_base is None:
            return default(endpoint, client, policy)
        try:
            return build_provider(endpoint, client, policy, api_base=api_base)
        except ValueError as e:  # as the default factory: the registry's start-up message
            raise MlflowException.invalid_parameter_value(str(e)) from None

    return build


class FakeUpstreamGateway(EmbeddedGateway):
    """:class:`EmbeddedGateway` whose providers named in ``api_bases`` (e.g.
    ``{"anthropic": fake.api_base}``) call that base URL instead of their public API."""

    def __init__(self, config: Any, *, api_bases: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.api_bases = dict(api_bases)

    async def start(self) -> str:
        from mlflow.gateway.server.app import create_app

        app = create_app(self.options, self.config,
                         provider_factory=_redirecting_factory(self.api_bases))
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                                     shutdown_timeout=self.options.grace_period)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.options.host, self.options.port).start()
        self.url = f"http://{self.options.host}:{self._runner.addresses[0][1]}"
        return self.url
