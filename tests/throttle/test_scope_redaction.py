"""The throttle shows a scope through the engine's one URL redactor (``async_core.redact``):
credentials masked, the rest of the URL kept. And the engine names nothing of the layer above."""

from __future__ import annotations

from pathlib import Path

import pytest

import async_core
from async_core.limits.limiter import AdmissionTimeout
from async_core.redact import redact_url
from async_core.throttle import Throttle

SCOPE = "https://alice:pw-SECRET-1@gw.example/endpoints/chat?api_key=KEY-SECRET-2&region=eu"


def test_repr_uses_the_one_redactor():
    admission = Throttle().admission(SCOPE, 5, "second")
    text = repr(admission)
    assert "pw-SECRET-1" not in text and "KEY-SECRET-2" not in text
    shown = redact_url(SCOPE)
    assert f"scope={shown!r}" in text
    # What only the engine's redactor does: the user name and harmless parameters stay.
    assert "alice:***@gw.example" in text and "region=eu" in text and "api_key=***" in text


def test_token_as_user_info_is_masked():
    text = repr(Throttle().admission("https://TOKEN-SECRET-3@gw.example/x", 5, "second"))
    assert "TOKEN-SECRET-3" not in text and "***@gw.example/x" in text


async def test_timeout_message_uses_the_one_redactor():
    admission = Throttle().admission(SCOPE, 1, "hour")
    await admission.acquire()
    with pytest.raises(AdmissionTimeout) as info:
        await admission.acquire(timeout=0.01)
    message = str(info.value)
    assert "KEY-SECRET-2" not in message and "pw-SECRET-1" not in message
    assert repr(redact_url(SCOPE)) in message


def test_the_engine_names_nothing_of_the_layer_above():
    root = Path(async_core.__file__).parent
    offenders = [
        str(path.relative_to(root)) for path in sorted(root.rglob("*.py"))
        if "mlflow" in path.read_text(encoding="utf-8").lower()
    ]
    assert offenders == []
