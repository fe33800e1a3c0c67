"""The gateway server's error: an HTTP status, a message safe to show a caller, optional headers."""

from __future__ import annotations

from collections.abc import Mapping


class AIGatewayException(Exception):
    """Raised by providers and routes; the server answers ``status_code`` with
    ``{"detail": detail}`` (MLflow's shape) plus ``headers`` (for example Retry-After).

    ``detail`` is shown to the caller: build it from fields you chose, never from a library
    object's repr or an upstream body that may echo a credential."""

    def __init__(
        self, *, status_code: int, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers or {})
