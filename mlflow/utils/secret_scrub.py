"""Known secrets, masked out of any text we put into a message.

Messages are built from chosen fields, but MLflow's contract copies a server's response text
into some errors (``augmented_raise_for_status``, ``verify_rest_response``), and a hostile or
careless server can echo the request's credentials back. Every credential the HTTP layer sends
(the ``Authorization`` value and its parts, a signer's headers, host credentials) is remembered
here, in a small bounded set, and ``scrub`` replaces any of them in a text with ``***``.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping

_MAX = 256
_MIN_LENGTH = 6  # shorter values are too likely to be ordinary words
_SENSITIVE_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-amz-security-token", "x-api-key", "api-key",
    "x-goog-api-key", "cookie",
})
_known: OrderedDict[str, None] = OrderedDict()
_lock = threading.Lock()


def remember(*values: object) -> None:
    for value in values:
        if isinstance(value, str) and len(value) >= _MIN_LENGTH:
            if value in _known:
                continue
            with _lock:
                _known[value] = None
                while len(_known) > _MAX:
                    _known.popitem(last=False)


def remember_headers(headers: Mapping[str, str]) -> None:
    for name, value in headers.items():
        if name.lower() in _SENSITIVE_HEADERS and isinstance(value, str):
            remember(value, *_parts(value))


def _parts(value: str) -> Iterable[str]:
    """``Bearer <token>`` -> the token; ``Basic <b64>`` -> the b64 and the decoded password."""
    scheme, _, credential = value.partition(" ")
    if not credential:
        return ()
    parts = [credential]
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credential).decode("utf-8").partition(":")
            parts += [f"{user}:{password}", password]
        except (ValueError, UnicodeDecodeError):
            pass
    return parts


def remember_basic(username: str | None, password: str | None) -> None:
    if username and password:
        pair = f"{username}:{password}"
        remember(password, pair, base64.standard_b64encode(pair.encode()).decode())


def scrub(text: str) -> str:
    if not _known or not text:
        return text
    for secret in sorted(_known, key=len, reverse=True):  # longest first: parts stay masked
        if secret in text:
            text = text.replace(secret, "***")
    return text
