"""The one URL redactor: what may be shown of a URL in a message, a log line or a repr.

A password in the user-info becomes ``***`` (``user:***@host``); a user-info without one (often
a token: ``https://<token>@host``) becomes ``***@``; and the values of query parameters whose
names look like credentials (``token``, ``api_key``, ``sig``, ``X-Amz-Security-Token``, ...)
by ``***``. Everything else is kept, so a message still says which endpoint failed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

_SENSITIVE_NAME = re.compile(
    r"token|key|secret|pass(word|wd)?|pwd|sig(nature)?|credential|auth|session|code",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(?<=://).*@", re.DOTALL)  # up to the last "@": all of it masked
_QUERY_PAIR = re.compile(r"([^&;=]*)=([^&;]*)")


def redact_url(url: object) -> str:
    """``url`` (a str or a URL object) with credentials masked; never raises."""
    return _redact(url if isinstance(url, str) else str(url))


@lru_cache(maxsize=512)
def _redact(text: str) -> str:
    if "@" not in text and "=" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:  # not parseable as a URL: mask whatever looks like user-info
        return _USERINFO.sub("***@", text)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if colon and user else f"***@{host}"
    query = _QUERY_PAIR.sub(_mask_pair, parts.query) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _mask_pair(match: re.Match) -> str:
    name, value = match.group(1), match.group(2)
    return f"{name}=***" if value and _SENSITIVE_NAME.search(name) else match.group(0)
