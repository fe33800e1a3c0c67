"""Small request helpers shared by MLflow's REST code (names as in MLflow)."""

from __future__ import annotations

import requests

_TRANSIENT_FAILURE_RESPONSE_CODES = frozenset([408, 429, 500, 502, 503, 504])


def augmented_raise_for_status(response: requests.Response) -> None:
    """``raise_for_status()``, with the response body appended to the error message."""
    try:
        response.raise_for_status()
    except requests.HTTPError as e:
        if response.text:
            raise requests.HTTPError(
                f"{e}. Response text: {response.text}", request=e.request, response=e.response
            ) from e
        raise
