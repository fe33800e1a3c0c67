"""Validation of ``http_request``'s parameters, before anything is sent.

One set of checks serves the plain HTTP path and the Databricks-SDK path. A refused value raises
``MlflowException(INVALID_PARAMETER_VALUE)`` naming the parameter, the value (its type and a
bounded excerpt, never a secret: header values are not echoed) and what is accepted. Values
MLflow itself accepts (``max_retries=True``, ``retry_codes=['503']``) keep working, with a
warning that names them.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any

from mlflow.environment_variables import (
    _MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT,
    _MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT,
)
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

_logger = logging.getLogger("mlflow.utils.rest_utils")

# RFC 9110 token characters: what a header name may be made of.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_CHARS = re.compile(r"[\r\n\x00]")
_SHOWN = 60  # characters of a refused value shown in a message


def _shown(value: Any) -> str:
    text = repr(value)
    if len(text) > _SHOWN:
        text = f"{text[:_SHOWN]}... ({type(value).__name__}, {len(text)} characters)"
    return text


def refuse(name: str, value: Any, accepted: str) -> MlflowException:
    return MlflowException(
        f"Invalid value for `{name}`: {_shown(value)} ({type(value).__name__}). "
        f"Accepted: {accepted}.",
        error_code=INVALID_PARAMETER_VALUE,
    )


def _real(name: str, value: Any, accepted: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise refuse(name, value, accepted)
    return value


# --- retry settings -----------------------------------------------------------------------------
def bool_retries(value: Any) -> Any:
    """MLflow accepts ``max_retries=True``: used as 1, with a warning (on every call; the
    validated settings are cached, so this runs before that cache)."""
    if isinstance(value, bool):
        _logger.warning("max_retries=%r is a bool; it is used as the integer %d", value, value)
        return int(value)
    return value


def max_retries(value: Any) -> int:
    value = bool_retries(value)
    if not isinstance(value, Integral):
        raise refuse("max_retries", value, "an integer from 0 up to the maximum retry limit")
    limit = _MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT.get()
    if limit < 0:
        raise MlflowException(
            message=f"The current maximum retry limit is invalid ({limit}). Cannot be negative.",
            error_code=INVALID_PARAMETER_VALUE,
        )
    if value >= limit:
        raise MlflowException(
            message=f"The configured max_retries value ({value}) is "
            f"in excess of the maximum allowable retries ({limit})",
            error_code=INVALID_PARAMETER_VALUE,
        )
    if value < 0:
        raise MlflowException(
            message=f"The max_retries value must be either 0 a positive integer. Got {value}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return int(value)


def backoff_factor(value: Any) -> float:
    value = _real("backoff_factor", value, "a finite number of seconds, 0 or more")
    limit = _MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT.get()
    if limit < 0:
        raise MlflowException(
            message="The current maximum backoff factor limit is invalid "
            f"({limit}). Cannot be negative.",
            error_code=INVALID_PARAMETER_VALUE,
        )
    if value >= limit:
        raise MlflowException(
            message=f"The configured backoff_factor value ({value}) is in excess "
            "of the maximum allowable backoff_factor limit "
            f"({limit})",
            error_code=INVALID_PARAMETER_VALUE,
        )
    if value < 0:
        raise MlflowException(
            message="The backoff_factor value must be either 0 a positive integer. "
            f"Got {value}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return value


def backoff_jitter(value: Any) -> float:
    value = _real("backoff_jitter", value, "a finite number of seconds, 0 or more")
    if value < 0:
        raise refuse("backoff_jitter", value, "a finite number of seconds, 0 or more")
    return value


def seconds(name: str, value: Any) -> float | None:
    """A timeout: None, or a finite number of seconds above 0."""
    if value is None:
        return None
    value = _real(name, value, "None or a finite number of seconds greater than 0")
    if value <= 0:
        raise refuse(name, value, "None or a finite number of seconds greater than 0")
    return value


def retry_codes(value: Any) -> frozenset[int]:
    """HTTP status codes. Strings of digits are accepted (with a warning), as MLflow accepts."""
    if isinstance(value, frozenset) and all(type(c) is int for c in value):
        return value
    accepted = "a list of HTTP status codes (integers from 100 to 599)"
    if value is None:
        return frozenset()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise refuse("retry_codes", value, accepted)
    codes = []
    for code in value:
        if isinstance(code, str) and code.strip().isdigit():
            _logger.warning("retry_codes contains the string %r; it is used as the status %d",
                            code, int(code))
            code = int(code)
        if isinstance(code, bool) or not isinstance(code, Integral) or not 100 <= code <= 599:
            raise refuse("retry_codes", value, accepted)
        codes.append(int(code))
    return frozenset(codes)


def flag(name: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise refuse(name, value, "True, False or None")


# --- the request --------------------------------------------------------------------------------
def headers(name: str, value: Any) -> Mapping[str, str] | None:
    """Header names must be tokens and values must not break the line: nothing is sent raw."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise refuse(name, value, "a dict of header names to values")
    for key, item in value.items():
        if not isinstance(key, str) or not _HEADER_NAME.fullmatch(key):
            raise refuse(f"{name} name", key, "a non-empty header name of letters, digits and "
                         "!#$%&'*+-.^_`|~ (no spaces, colons or line breaks)")
        if not isinstance(item, (str, bytes)) or _BAD_VALUE_CHARS.search(
            item if isinstance(item, str) else item.decode("latin-1")
        ):
            # The value itself is not shown: it may be a credential.
            raise MlflowException(
                f"Invalid value for header `{key}` in `{name}`: a {type(item).__name__}"
                " that is not a single-line string. Accepted: a str without CR, LF or NUL.",
                error_code=INVALID_PARAMETER_VALUE,
            )
    return value


def data(value: Any) -> None:
    if value is None or isinstance(value, (bytes, bytearray, memoryview, str, dict, list, tuple)):
        return
    if hasattr(value, "read"):
        return
    raise refuse("data", value, "bytes, str, a file object, or a dict/list of form fields")


def tls_path(name: str, value: Any) -> None:
    """``verify`` (a bool or a CA bundle path) and ``cert`` (a path or a (cert, key) pair)."""
    if value is None or isinstance(value, bool) and name == "verify":
        return
    paths = value if isinstance(value, (tuple, list)) and name == "cert" else (value,)
    if name == "cert" and isinstance(value, (tuple, list)) and len(value) != 2:
        raise refuse(name, value, "a path, or a (certificate, key) pair of paths")
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise refuse(name, value, "True, False or a path" if name == "verify" else
                         "a path, or a (certificate, key) pair of paths")
        if not os.path.exists(path):
            raise MlflowException(
                f"Invalid value for `{name}`: the file {os.fspath(path)!r} does not exist.",
                error_code=INVALID_PARAMETER_VALUE,
            )


def json_body(error: Exception, value: Any) -> MlflowException:
    """The error for a ``json=`` body that cannot be encoded (NaN, an object, a cycle)."""
    return MlflowException(
        f"Invalid value for `json`: it cannot be encoded as JSON ({type(error).__name__}: "
        f"{str(error)[:_SHOWN]}). Accepted: dicts, lists, str, finite numbers, bools, None.",
        error_code=INVALID_PARAMETER_VALUE,
    )
