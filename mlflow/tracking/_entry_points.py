"""Loading plugin providers from entry points: once per registry, failures logged, never raised."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

_logger = logging.getLogger(__name__)


def discover(group: str) -> list[EntryPoint]:
    """The entry points of ``group``, without the duplicates a distribution seen on two paths
    (an editable install next to a regular one) would produce."""
    seen: set[tuple[str, str]] = set()
    found = []
    for ep in entry_points(group=group):
        key = (ep.name, ep.value)
        if key not in seen:
            seen.add(key)
            found.append(ep)
    return found


def load_providers(group: str, kind: str, eps: Iterable[EntryPoint] | None = None) -> list[Any]:
    """Instantiate each provider class of ``group``. A plugin that fails to import or build is
    skipped with a warning: one broken plugin must not break every request."""
    providers = []
    for ep in discover(group) if eps is None else eps:
        try:
            target = ep.load()
            providers.append(target() if isinstance(target, type) else target)
        except Exception as e:
            _logger.warning(
                'Failure attempting to register %s provider "%s" (%s): %s: %s',
                kind, ep.name, ep.value, type(e).__name__, e,
            )
    return providers
