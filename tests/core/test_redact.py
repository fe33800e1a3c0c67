"""The one URL redactor."""

from __future__ import annotations

import pytest
from yarl import URL

from async_core import redact_url

CASES = [
    ("http://host/x", "http://host/x"),
    ("http://user:pw@host:8080/x?a=1", "http://user:***@host:8080/x?a=1"),
    ("https://ghp_tok3n@host/x", "https://***@host/x"),
    ("https://:pw@host/x", "https://***@host/x"),
    ("https://h/x?token=abc&page=2", "https://h/x?token=***&page=2"),
    ("https://h/x?api_key=abc&X-Amz-Security-Token=zz&X-Amz-Signature=ss",
     "https://h/x?api_key=***&X-Amz-Security-Token=***&X-Amz-Signature=***"),
    ("https://h/x?client_secret=s&password=p&sig=q", "https://h/x?client_secret=***&password=***"
     "&sig=***"),
    ("databricks://profile", "databricks://profile"),
    ("http://[::1:bad/x?token=t@x", "http://***@x"),  # unparseable: user-info masked anyway
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_url_objects_are_accepted():
    assert redact_url(URL("http://u:secret@h/p")) == "http://u:***@h/p"
