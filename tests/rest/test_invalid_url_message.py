"""``Invalid url: <url>`` shows the URL the caller built (MLflow strips one trailing '/' from
the host, never the scheme's '//')."""

from __future__ import annotations

import pytest

from mlflow.exceptions import InvalidUrlException
from mlflow.utils.rest_utils import MlflowHostCreds


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("http://", "http:///x"),  # was "http:/x": the strip ate the scheme's slashes
        ("http:///", "http:///x"),  # MLflow 3.17.2: "Invalid url: http:///x"
        ("https://", "https:///x"),
        ("http://bad host/", "http://bad host/x"),
    ],
)
async def test_invalid_url_shows_the_url_built(call, server, host, shown):
    with pytest.raises(InvalidUrlException) as info:
        await call(MlflowHostCreds(host), "/x", "GET", max_retries=0)
    assert str(info.value.message) == f"Invalid url: {shown}"
    assert server.attempts == []
