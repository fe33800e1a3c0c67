"""Checks on the management API's input. Each failure is an ``MlflowException`` with
``INVALID_PARAMETER_VALUE`` that names the field, the limit and the fix."""

from __future__ import annotations

import json
import re
from typing import Any

from mlflow.entities._convert import check_weight
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.gateway.config import Provider
from mlflow.store.gateway.models import NAME_MAX, TAG_KEY_MAX, TAG_VALUE_MAX

# Endpoint names appear in URL paths (/gateway/{name}/..., models/{name}:generateContent).
_ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")

__all__ = ["check_weight"]


def _invalid(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def _shown(value: Any) -> str:
    """A value for an error message: short strings as they are, anything else by type."""
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return type(value).__name__


def check_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{field} must be a non-empty string, got {_shown(value)}")
    if len(value) > NAME_MAX:
        raise _invalid(f"{field} must be at most {NAME_MAX} characters, got {len(value)}")
    return value


def check_endpoint_name(value: Any) -> str:
    check_name(value, "name")
    if not _ENDPOINT_NAME.match(value):
        raise _invalid(
            f"Invalid endpoint name {_shown(value)}: use letters, digits, '_', '-' and '.' only "
            "(the name is part of the serving URL)"
        )
    return value


def check_optional_user(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > NAME_MAX:
        raise _invalid(f"{field} must be a string of at most {NAME_MAX} characters")
    return value or None


def check_provider(value: Any) -> str:
    if not isinstance(value, str) or value not in Provider.values():
        allowed = ", ".join(sorted(Provider.values()))
        raise _invalid(f"The provider {_shown(value)} is not supported. Use one of: {allowed}")
    return value


def check_tag(key: Any, value: Any) -> tuple[str, str | None]:
    if not isinstance(key, str) or not key:
        raise _invalid(f"Tag key must be a non-empty string, got {_shown(key)}")
    if len(key) > TAG_KEY_MAX:
        raise _invalid(
            f"Tag key '{key[:40]}...' is {len(key)} characters; the limit is {TAG_KEY_MAX}"
        )
    if value is not None and not isinstance(value, str):
        raise _invalid(f"Tag value for key '{key}' must be a string or null, got {_shown(value)}")
    if value is not None and len(value) > TAG_VALUE_MAX:
        raise _invalid(
            f"Tag value for key '{key}' is {len(value)} characters; the limit is {TAG_VALUE_MAX}"
        )
    if key == LIMIT_TAG:
        check_limit_tag(value)
    return key, value or None


def check_tags(tags: Any) -> list[tuple[str, str | None]]:
    """``[{"key": ..., "value": ...}, ...]`` checked, with no key twice."""
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, dict) for t in tags):
        raise _invalid('tags must be a list of {"key": ..., "value": ...} objects')
    checked = [check_tag(t.get("key"), t.get("value")) for t in tags]
    keys = [key for key, _ in checked]
    if len(set(keys)) != len(keys):
        raise _invalid("tags name the same key more than once")
    return checked


#: An endpoint tag holding the endpoint's rate limit, as MLflow's ``limit`` JSON:
#: ``{"calls": 100, "renewal_period": "minute", "key": null}``. The serving routes enforce it.
LIMIT_TAG = "mlflow.gateway.limit"


def check_limit_tag(value: Any) -> dict[str, Any]:
    from async_core.periods import parse_period

    example = '{"calls": 100, "renewal_period": "minute"}'
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise _invalid(f"Tag '{LIMIT_TAG}' must be a JSON object such as {example}")
    calls, period, key = data.get("calls"), data.get("renewal_period"), data.get("key")
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
        raise _invalid(f"Tag '{LIMIT_TAG}': calls must be a whole number >= 1, got {_shown(calls)}")
    if not isinstance(period, str):
        raise _invalid(f"Tag '{LIMIT_TAG}': renewal_period must be a string such as 'minute'")
    try:
        parse_period(period)
    except Exception:  # noqa: BLE001 - the parser's message is about the same value
        raise _invalid(
            f"Tag '{LIMIT_TAG}': renewal_period {_shown(period)} is not a period such as "
            "'second', 'minute', 'hour', 'day' or '5 minutes'"
        ) from None
    if key is not None and not isinstance(key, str):
        raise _invalid(f"Tag '{LIMIT_TAG}': key must be a string or null")
    return {"calls": calls, "renewal_period": period, "key": key}


def check_secret_value(value: Any) -> dict[str, str]:
    # Never echo the value itself: it is a credential.
    if not isinstance(value, dict) or not value:
        raise _invalid('secret_value must be a non-empty JSON object such as {"api_key": "..."}')
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise _invalid("secret_value keys must be non-empty strings")
        if not isinstance(item, str) or not item:
            raise _invalid(f"secret_value['{key[:40]}'] must be a non-empty string")
    return dict(value)


def check_auth_config(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(
            'auth_config must be a JSON object such as {"api_base": "https://..."}, '
            f"got {type(value).__name__}"
        )
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise _invalid("auth_config keys must be non-empty strings")
        if item is not None and not isinstance(item, (str, int, float, bool)):
            raise _invalid(f"auth_config['{key[:40]}'] must be a string, number or boolean")
    return dict(value)


def check_model_configs(value: Any) -> list[tuple[str, float]]:
    """``[{"model_definition_id": ..., "weight": 1.0}, ...]`` -> [(id, weight)], no duplicates."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid("model_configs must be a list of {model_definition_id, weight} objects")
    configs: list[tuple[str, float]] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, dict):
            raise _invalid("each model_configs entry must be an object")
        model_definition_id = item.get("model_definition_id")
        if not isinstance(model_definition_id, str) or not model_definition_id:
            raise _invalid("each model_configs entry needs a model_definition_id string")
        if model_definition_id in seen:
            raise _invalid(
                f"model definition '{model_definition_id}' appears twice in model_configs; "
                "give it one entry with the combined weight"
            )
        seen.add(model_definition_id)
        weight = item.get("weight")
        configs.append((model_definition_id, 1.0 if weight is None else check_weight(weight)))
    return configs
