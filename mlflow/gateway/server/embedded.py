"""The real gateway server inside another program: for examples, demos and tests.

    from mlflow.gateway.server.embedded import EmbeddedGateway
    from mlflow.testing import OpenAIServer

    with OpenAIServer().running() as upstream:
        config = {"endpoints": [{"name": "chat", "endpoint_type": "llm/v1/chat", "model": {
            "provider": "openai", "name": "gpt-4o-mini",
            "config": {"openai_api_key": "sk-test-key", "openai_api_base": upstream + "/v1"}}}]}
        with EmbeddedGateway(config).running() as url:
            ...  # get_deploy_client(url), openai.OpenAI(base_url=url + "/v1"), ...

It serves ``create_app`` on 127.0.0.1 (an ephemeral port by default): in the caller's loop with
``async with EmbeddedGateway(config) as url``, or on a background thread with its own loop with
``.running()``. Production serving is ``mlflow gateway start``."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from async_core.runner import close_loop
from mlflow.gateway.config import GatewayConfig, _load_gateway_config
from mlflow.gateway.server.options import ServerOptions

_START_TIMEOUT = 30.0


def _as_config(config: GatewayConfig | Mapping[str, Any] | str | Path) -> GatewayConfig:
    if isinstance(config, GatewayConfig):
        return config
    if isinstance(config, Mapping):
        return GatewayConfig.model_validate(dict(config))
    return _load_gateway_config(config)


class EmbeddedGateway:
    def __init__(
        self,
        config: GatewayConfig | Mapping[str, Any] | str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **options: Any,
    ) -> None:
        path = config if isinstance(config, str | Path) else None
        options.setdefault("reload_interval", 1.0 if path is not None else 0)
        self.options = ServerOptions(
            config_path=str(path) if path is not None else None, host=host, port=port,
            workers=1, **options,
        )
        self.config = _as_config(config)
        self.url: str | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> str:
        from mlflow.gateway.server.app import create_app

        app = create_app(self.options, self.config)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None,
                                     shutdown_timeout=self.options.grace_period)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{self.options.host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """Serve on a background thread (its own event loop); yields the base URL."""
        started = threading.Event()
        failure: list[BaseException] = []
        stop = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as e:  # handed to the caller's thread
                failure.append(e)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_until_complete(loop.run_in_executor(None, stop.wait))
            loop.run_until_complete(self.stop())
            close_loop(loop)

        self._thread = threading.Thread(target=serve, name="embedded-gateway", daemon=True)
        self._thread.start()
        if not started.wait(_START_TIMEOUT):
            raise RuntimeError("the embedded gateway did not start")
        if failure:
            raise failure[0]
        try:
            yield self.url
        finally:
            stop.set()
            self._thread.join(_START_TIMEOUT)


def demo_config(api_base: str, api_key: str = "sk-test-key") -> dict[str, Any]:
    """chat, completions and embeddings endpoints on an OpenAI-compatible ``api_base``."""
    def endpoint(name: str, endpoint_type: str, model: str) -> dict[str, Any]:
        return {"name": name, "endpoint_type": endpoint_type,
                "model": {"provider": "openai", "name": model,
                          "config": {"openai_api_key": api_key, "openai_api_base": api_base}}}

    return {"endpoints": [
        endpoint("chat", "llm/v1/chat", "gpt-4o-mini"),
        endpoint("completions", "llm/v1/completions", "gpt-3.5-turbo-instruct"),
        endpoint("embeddings", "llm/v1/embeddings", "text-embedding-3-small"),
    ]}


def main(argv: list[str] | None = None) -> None:
    """``python -m mlflow.gateway.server.embedded [--port 5000]``: the real gateway in front of
    the packaged OpenAI fake (no account, no network), until Ctrl-C."""
    import argparse

    from mlflow.testing import OpenAIServer

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    with OpenAIServer().running() as upstream, EmbeddedGateway(
        demo_config(upstream + "/v1"), port=args.port
    ).running() as url:
        print(f"MLflow AI gateway (demo, fake OpenAI upstream) at {url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
