"""Small helpers shared by the gateway entities' proto and dict conversions."""

from __future__ import annotations

import math
from typing import Any

from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException


def none_if_empty(value: str | None) -> str | None:
    """The seed maps an empty string to None for these fields (``proto.x or None``)."""
    return value or None


def optional_field(proto: Any, name: str) -> Any:
    """The proto field's value when set, else None (proto2 presence)."""
    return getattr(proto, name) if proto.HasField(name) else None


def set_if_not_none(proto: Any, name: str, value: Any) -> None:
    if value is not None:
        setattr(proto, name, value)


def _check_object(data: Any, entity: str) -> None:
    if not isinstance(data, dict):
        raise MlflowException(
            f"{entity} must be a JSON object, got {type(data).__name__}",
            error_code=INVALID_PARAMETER_VALUE,
        )


def require(data: dict, key: str, kind: type | tuple[type, ...], entity: str) -> Any:
    _check_object(data, entity)
    if key not in data or data[key] is None:
        raise MlflowException(
            f"{entity} is missing the required field '{key}'", error_code=INVALID_PARAMETER_VALUE
        )
    return check_type(data[key], key, kind, entity)


def optional(data: dict, key: str, kind: type | tuple[type, ...], entity: str) -> Any:
    _check_object(data, entity)
    value = data.get(key)
    return None if value is None else check_type(value, key, kind, entity)


def check_type(value: Any, key: str, kind: type | tuple[type, ...], entity: str) -> Any:
    # bool is an int in Python; a timestamp or weight of true/false is a mistake, not a number.
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise MlflowException(
            f"{entity}.{key} must be {names}, got {type(value).__name__}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return value


def check_weight(weight: Any) -> float:
    """A routing weight: a finite, non-negative number."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise MlflowException(
            f"weight must be a number, got {type(weight).__name__}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    weight = float(weight)
    if not math.isfinite(weight) or weight < 0:
        raise MlflowException(
            f"weight must be a finite number >= 0, got {weight!r}; give each model a share such "
            "as 1 or 0.25",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return weight


def without_none(pairs: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in pairs.items() if value is not None}
