"""What the provider fakes share: a key to check, a stream delay, a scripted reply."""

from __future__ import annotations

from typing import Any

from mlflow.testing.loopback import LoopbackServer


class ProviderFake(LoopbackServer):
    """A loopback fake of one provider's API.

    Args:
        api_key: The credential the fake accepts; ``None`` accepts any request.
        stream_delay: Seconds before each streamed event.
        reply: A fixed reply text in place of the echo of the last user message.
        tool_call: ``{"name": ..., "arguments": {...}}``: answer a request that offers tools
            with this call instead of text.
        echo_key_in_errors: An authentication error repeats the credential it was sent, as
            some APIs do (the gateway must scrub it).
    """

    #: The path prefix of the API (``api_base`` = ``base_url`` + this).
    API_PREFIX = ""

    def __init__(
        self,
        *,
        api_key: str | None = "test-key",
        stream_delay: float = 0.0,
        reply: str | None = None,
        tool_call: dict[str, Any] | None = None,
        echo_key_in_errors: bool = False,
        record: bool = True,
    ) -> None:
        super().__init__(record=record)
        self.api_key = api_key
        self.stream_delay = stream_delay
        self.reply = reply
        self.tool_call = tool_call
        self.echo_key_in_errors = echo_key_in_errors

    @property
    def api_base(self) -> str:
        return self.base_url + self.API_PREFIX

    def _reply_to(self, text: str) -> str:
        return self.reply if self.reply is not None else f"Echo: {text}"

    def _key_ok(self, sent: str | None) -> bool:
        return self.api_key is None or sent == self.api_key

    def _rejected_key_text(self, sent: str | None) -> str:
        return f" (sent: {sent})" if self.echo_key_in_errors and sent else ""
