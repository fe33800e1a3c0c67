"""Helpers of the gateway configuration: name rules, API-key resolution, name and traffic-route
checks, and readable validation errors. Pure functions, no network."""

from __future__ import annotations

import logging
import os
import posixpath
import re
import reprlib
import warnings
from collections.abc import Iterable, Mapping, Sequence, Sized
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from mlflow.environment_variables import (
    MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV,
    MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE,
    MLFLOW_GATEWAY_URI,
)
from mlflow.exceptions import MlflowException

_logger = logging.getLogger(__name__)

# ASCII only: names become URL path segments.
_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9_\-\.]+")
# A location part that may hold a credential: its input is never echoed in an error.
_SECRET_LOCATION = re.compile(r"key|token|secret|password|credential|auth", re.IGNORECASE)
_MAX_ECHOED_INPUT = 80


def is_valid_endpoint_name(name: str) -> bool:
    """Whether ``name`` holds only ASCII letters, digits, ``_``, ``-`` and ``.`` (and is not
    empty), so it is safe as a URL path segment."""
    return isinstance(name, str) and _ENDPOINT_NAME.fullmatch(name) is not None


# ---------------------------------------------------------------------------------------------
# API keys


def _flag_enabled(flag: Any) -> bool:
    try:
        return bool(flag.get())
    except ValueError as e:
        # Not a ValueError any more: pydantic would otherwise fold it into a validation error.
        raise MlflowException.invalid_parameter_value(str(e)) from e


def resolve_api_key(api_key_input: Any) -> str:
    """Resolve a configured API key.

    - ``"$NAME"``: the value of environment variable ``NAME`` when
      ``MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV`` is enabled; an unset (or empty) variable is an
      error. When the switch is off the string is used as it is.
    - a path to an existing file: the file's text without its trailing newline, when
      ``MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE`` is enabled.
    - anything else: the key itself.

    Errors name the variable or the path, never a key.
    """
    if not isinstance(api_key_input, str):
        raise MlflowException.invalid_parameter_value(
            "The api key provided is not a string. Please provide either an environment "
            "variable key, a path to a file containing the api key, or the api key itself"
        )

    if api_key_input.startswith("$"):
        env_var_name = api_key_input[1:]
        if _flag_enabled(MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV):
            if value := os.getenv(env_var_name):
                return value
            raise MlflowException.invalid_parameter_value(
                f"Environment variable {env_var_name!r} is not set. Export it with the API key, "
                f"or put the key itself in the gateway configuration."
            )
        # The value is not named: with resolution off it may be a literal key.
        _logger.warning(
            "An API key starts with '$' but %s is disabled: the value is used as the key itself.",
            MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV.name,
        )
        return api_key_input

    if _flag_enabled(MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE):
        path = Path(api_key_input)
        try:
            is_file = path.is_file()
        except (OSError, ValueError):
            # Too long for a file name, or holds a NUL byte: it is a key, not a path.
            is_file = False
        if is_file:
            try:
                # A trailing newline would make an invalid HTTP header value.
                return path.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as e:
                reason = e.strerror if isinstance(e, OSError) else "it is not UTF-8 text"
                raise MlflowException.invalid_parameter_value(
                    f"Failed to read the API key from file '{api_key_input}': {reason}."
                ) from e

    return api_key_input


# MLflow's name for it.
_resolve_api_key_from_input = resolve_api_key


# ---------------------------------------------------------------------------------------------
# Names and traffic routes


def _duplicates(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    duplicates: list[str] = []
    for name in names:
        if name in seen and name not in duplicates:
            duplicates.append(name)
        seen.add(name)
    return duplicates


def check_duplicate_names(names: Iterable[Any]) -> None:
    """Reject a name used twice across endpoints and traffic routes."""
    if duplicates := _duplicates(n for n in names if isinstance(n, str)):
        listed = ", ".join(repr(n) for n in duplicates)
        raise MlflowException.invalid_parameter_value(
            "Duplicate names found in endpoint / route configurations. "
            "Please remove the duplicate endpoint / route name "
            "from the configuration to ensure that endpoints / routes are created properly. "
            f"Duplicated: {listed}."
        )


def validate_traffic_routes(
    endpoint_types: Mapping[str, str],
    routes: Iterable[tuple[str, str, Sequence[tuple[str, int]]]],
) -> None:
    """Check each traffic route ``(name, task_type, [(destination, percentage), ...])``:
    destinations are endpoints of the route's type, each percentage lies in [0, 100] and the
    percentages sum to 100."""
    for route_name, task_type, destinations in routes:
        total = 0
        for dest_name, percentage in destinations:
            if dest_name not in endpoint_types:
                raise MlflowException.invalid_parameter_value(
                    f"The route destination name must be a endpoint name, "
                    f"but the route '{route_name}' has an invalid destination name "
                    f"'{dest_name}'."
                )
            if endpoint_types[dest_name] != task_type:
                raise MlflowException.invalid_parameter_value(
                    f"The route destination endpoint types in the route '{route_name}' must have "
                    f"endpoint type '{task_type}' but got endpoint type "
                    f"'{endpoint_types[dest_name]}'."
                )
            if not 0 <= percentage <= 100:
                raise MlflowException.invalid_parameter_value(
                    "The route destination traffic percentage must between 0 and 100: the route "
                    f"'{route_name}' gives destination '{dest_name}' {percentage}."
                )
            total += percentage
        if total != 100:
            raise MlflowException.invalid_parameter_value(
                "For each route configuration, the traffic percentage sum of destinations "
                f"must be 100, but got invalid configuration of route '{route_name}' "
                f"(the percentages sum to {total})."
            )


def _entries(config: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = config.get(key)
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def check_configuration_route_name_collisions(config: Mapping[str, Any]) -> None:
    """MLflow's check of a raw configuration mapping: unique names across ``endpoints`` and
    ``routes``, and consistent traffic routes. Malformed entries are skipped here; model
    validation reports them."""
    if not isinstance(config, Mapping):
        return
    endpoints = _entries(config, "endpoints")
    routes = _entries(config, "routes")
    check_duplicate_names([e.get("name") for e in endpoints] + [r.get("name") for r in routes])

    endpoint_types = {
        e["name"]: e.get("endpoint_type", e.get("route_type"))
        for e in endpoints
        if isinstance(e.get("name"), str)
    }
    well_formed = []
    for route in routes:
        destinations = route.get("destinations")
        if not isinstance(destinations, list):
            continue
        pairs = [
            (d.get("name"), d.get("traffic_percentage"))
            for d in destinations
            if isinstance(d, Mapping)
        ]
        if all(isinstance(n, str) and type(p) is int for n, p in pairs):
            well_formed.append((route.get("name"), route.get("task_type"), pairs))
    validate_traffic_routes(endpoint_types, well_formed)


def check_configuration_deprecated_fields(config: Mapping[str, Any]) -> None:
    """Warn (FutureWarning) about the pre-``endpoint_type`` key ``route_type``."""
    if not isinstance(config, Mapping):
        return
    for endpoint in _entries(config, "endpoints"):
        if "route_type" in endpoint:
            warnings.warn(
                "The 'route_type' configuration key has been deprecated and will be removed in "
                "an upcoming release. Use 'endpoint_type' instead.",
                FutureWarning,
                stacklevel=3,
            )
            return


# ---------------------------------------------------------------------------------------------
# Readable validation errors


# Bounded echoes: a value from a file or a server may be huge (a YAML alias bomb expands to
# billions of items that share references), so messages show its type, its size and a prefix
# built with bounded work, never its full repr.
_ECHO = reprlib.Repr()
_ECHO.maxlevel, _ECHO.maxlist, _ECHO.maxdict, _ECHO.maxtuple, _ECHO.maxset = 2, 4, 4, 4, 4
_ECHO.maxstring, _ECHO.maxother, _ECHO.maxlong = _MAX_ECHOED_INPUT, 40, 40


def describe_value(value: Any, limit: int = _MAX_ECHOED_INPUT) -> str:
    """A short, bounded description of ``value`` for a message: the repr of a small scalar, or
    a truncated repr with the type and size of anything large."""
    if value is None or isinstance(value, bool | int | float):
        text = repr(value)
        return text if len(text) <= limit else f"{text[:limit]}... ({type(value).__name__})"
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... (str of {len(value)} characters)"
    size = len(value) if isinstance(value, Sized) else None
    shown = _ECHO.repr(value)
    if len(shown) > limit:
        shown = shown[:limit] + "..."
    kind = type(value).__name__
    return f"{shown} ({kind} of {size} items)" if size is not None else f"{shown} ({kind})"


def quoted_text(value: Any, limit: int = _MAX_ECHOED_INPUT) -> str:
    """``'value'`` for a short string (so messages keep MLflow's exact wording), else
    :func:`describe_value`."""
    if isinstance(value, str) and len(value) <= limit:
        return f"'{value}'"
    return describe_value(value, limit)


def _describe_location(loc: tuple[Any, ...], data: Any) -> str:
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int):
            label = f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            if isinstance(node, Mapping) and isinstance(node.get("name"), str):
                label += f" (name={node['name']!r})"
            parts.append(label)
        else:
            node = node.get(part) if isinstance(node, Mapping) else None
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(top level)"


def _echoable(loc: tuple[Any, ...], value: Any) -> bool:
    if any(isinstance(p, str) and _SECRET_LOCATION.search(p) for p in loc):
        return False
    if isinstance(value, str):
        return len(value) <= _MAX_ECHOED_INPUT
    return value is None or isinstance(value, (bool, int, float))


def format_validation_error(error: ValidationError, data: Any = None) -> str:
    """One readable text for a pydantic ``ValidationError``: one line per problem, with the
    location (entries named where ``data`` names them) and the offending value unless the value
    is long, structured or sits under a credential-like key."""
    problems = error.errors(include_url=False)
    lines = [f"{len(problems)} validation error{'s' if len(problems) != 1 else ''}:"]
    for problem in problems:
        loc = tuple(problem.get("loc", ()))
        text = f"  {_describe_location(loc, data)}: {problem.get('msg', 'invalid value')}"
        if "input" in problem and problem["type"] != "missing" and _echoable(loc, problem["input"]):
            text += f" (got {problem['input']!r})"
        lines.append(text)
    return "\n".join(lines)


# --- the legacy gateway's URI (MLflow keeps these here; mlflow.gateway.fluent re-exports them) ---
_gateway_uri: str | None = None


def _is_valid_uri(uri: Any) -> bool:
    """True for ``"databricks"``, a ``databricks://`` URI, or a URI with a scheme and a netloc."""
    if uri == "databricks":
        return True
    try:
        parsed = urlparse(uri)
    except (TypeError, ValueError, AttributeError):
        return False
    return parsed.scheme == "databricks" or bool(parsed.scheme and parsed.netloc)


def set_gateway_uri(gateway_uri: str) -> None:
    """Set the URI of a running MLflow AI gateway (or ``"databricks"``) for the fluent API."""
    if not isinstance(gateway_uri, str) or not _is_valid_uri(gateway_uri):
        raise MlflowException.invalid_parameter_value(
            "The gateway uri provided is missing required elements. Ensure that the schema "
            "and netloc are provided."
        )
    global _gateway_uri
    _gateway_uri = gateway_uri


def get_gateway_uri() -> str:
    """The URI set with :func:`set_gateway_uri`, else ``MLFLOW_GATEWAY_URI``; raises if neither."""
    if _gateway_uri is not None:
        return _gateway_uri
    if uri := MLFLOW_GATEWAY_URI.get():
        return uri
    raise MlflowException(
        "No Gateway server uri has been set. Please either set the MLflow Gateway URI via "
        "`mlflow.gateway.set_gateway_uri()` or set the environment variable "
        f"{MLFLOW_GATEWAY_URI} to the running Gateway API server's uri"
    )


def assemble_uri_path(paths: list[str]) -> str:
    """``["/api/2.0/", "/endpoints/", "x"]`` -> ``"/api/2.0/endpoints/x"``: each non-empty part
    loses its outer slashes and the parts are joined under one leading slash (an empty part
    in the middle or at the end keeps its separator, as MLflow's does)."""
    parts = [path.strip("/") for path in paths if path]
    return "/" + posixpath.join(*parts) if parts else "/"


def resolve_route_url(base_url: str, route: str) -> str:
    """``route`` itself when it is already a full URI (as Databricks returns), else ``route``
    appended to the path of ``base_url`` (its query string kept)."""
    if _is_valid_uri(route):
        return route
    parsed = urlparse(base_url)
    path = parsed.path
    if route:
        path = path.rstrip("/") + "/" + route.lstrip("/")
    return parsed._replace(path=path).geturl()


__all__ = [
    "assemble_uri_path",
    "describe_value",
    "quoted_text",
    "get_gateway_uri",
    "resolve_route_url",
    "set_gateway_uri",
    "check_configuration_deprecated_fields",
    "check_configuration_route_name_collisions",
    "check_duplicate_names",
    "format_validation_error",
    "is_valid_endpoint_name",
    "resolve_api_key",
    "validate_traffic_routes",
]
