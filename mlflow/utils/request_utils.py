"""Small request helpers shared by MLflow's REST code (names as in MLflow)."""

from __future__ import annotations

import requests

from async_core import redact_url
from mlflow.utils.secret_scrub import scrub

_TRANSIENT_FAILURE_RESPONSE_CODES = frozenset([408, 429, 500, 502, 503, 504])


def redact_url_text(text: str) -> str:
    """``text`` with each URL in it redacted (requests' messages end with ``for url: <url>``)."""
    head, sep, url = text.rpartition(" for url: ")
    return f"{head}{sep}{redact_url(url)}" if sep else text


def augmented_raise_for_status(response: requests.Response) -> None:
    """``raise_for_status()``, with the response body appended to the error message."""
    try:
        response.raise_for_status()
    except requests.HTTPError as e:
        # A server may echo the request's credentials: known secrets are masked (and the
        # requests error's own text carries the URL, so it is redacted too).
        message = f"{scrub(redact_url_text(str(e)))}"
        if response.text:
            message = f"{message}. Response text: {scrub(response.text)}"
        raise requests.HTTPError(message, request=e.request, response=e.response) from None
