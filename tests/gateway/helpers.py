"""Builders shared by the gateway configuration tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

# A credential the test configs use: no error text or repr may ever contain it.
SECRET = "sk-TOPSECRET-4f9c2a7e"


def openai_model(**config: Any) -> dict[str, Any]:
    return {
        "name": "gpt-4o-mini",
        "provider": "openai",
        "config": {"openai_api_key": SECRET, **config},
    }


def endpoint(name: str = "chat", **overrides: Any) -> dict[str, Any]:
    entry = {"name": name, "endpoint_type": "llm/v1/chat", "model": openai_model()}
    entry.update(copy.deepcopy(overrides))
    return entry


def route(name: str, task_type: str, *destinations: tuple[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "task_type": task_type,
        "destinations": [{"name": d, "traffic_percentage": p} for d, p in destinations],
    }


def write_config(directory: Path, config: Any, filename: str = "config.yaml") -> Path:
    """Write ``config`` (YAML text, or data dumped as YAML) and return its path."""
    path = directory / filename
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    return path
