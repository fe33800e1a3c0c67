"""Per-client rate limits: the user's overrides and, for the MLflow gateway, the advertised ones.

Every deployment client keeps a :class:`ClientLimits`. ``client.set_limit(endpoint, limit)``
stores an override; :class:`AdvertisedLimits` caches the ``limit`` the gateway reports for each
endpoint (``GET /api/2.0/endpoints/<name>``), refreshed in the background once it is older than
the refresh interval. Either becomes an ``async_core.throttle`` admission for a *scope*:

- the target and the endpoint (``<target>/endpoints/<name>``): MLflow's gateway counts each
  route's calls on its own, and a ``key`` of ``"user"`` or ``"route"`` (MLflow's documented
  values; ``"endpoint"`` for Databricks) still means one budget per route;
- ``<target>/limits/<key>`` for any other ``key``: a budget that the gateway shares between
  every endpoint that names the same key.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import os
import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from async_core import get_runner
from mlflow.deployments import _provisional
from mlflow.deployments._limit_values import check_user_limit, limit_problem
from mlflow.environment_variables import MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.gateway.utils import describe_value
from mlflow.utils.throttling import admission_for, check_storage_uri, limit_fields, throttle

_logger = logging.getLogger(__name__)

#: Set to ``false`` to stop ``MlflowDeploymentClient`` from throttling to advertised limits.
THROTTLE_ENV = MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE.name
DEFAULT_REFRESH_INTERVAL = 60.0
# A failed fetch is retried this much later (the last known limit, if any, stays in force).
_RETRY_FAILED_FETCH = 10.0
# The fetch must not hold predictions up for long: short timeout, no retries.
FETCH_TIMEOUT = 10
# Keys that mean "one budget per route" rather than naming a budget shared between routes.
_PER_ROUTE_KEYS = frozenset({"user", "route", "endpoint"})

_warned: set[tuple[str, Any, Any]] = set()
_warned_lock = threading.Lock()


def throttle_enabled(flag: bool | None) -> bool:
    """The client's own flag, else ``MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE`` (default true)."""
    if flag is not None:
        return bool(flag)
    return MLFLOW_DEPLOYMENTS_CLIENT_THROTTLE.get()


def check_refresh_interval(seconds: Any) -> float:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise MlflowException(
            f"Invalid limit_refresh_interval={seconds!r}: use a positive number of seconds "
            f"(default {DEFAULT_REFRESH_INTERVAL:g}).",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return float(seconds)


def _target_of(target_uri: Any) -> str:
    """The target without user info, query or fragment (they may hold secrets)."""
    text = str(target_uri).rstrip("/")
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) or text


def scope_of(target_uri: Any, endpoint: str, key: Any) -> str:
    """The throttle scope of ``endpoint``'s limit (see the module docstring)."""
    target = _target_of(target_uri)
    if isinstance(key, str) and key and key.lower() not in _PER_ROUTE_KEYS:
        return f"{target}/limits/{quote(key, safe='')}"
    return f"{target}/endpoints/{quote(endpoint, safe='')}"


def check_endpoint(endpoint: Any) -> str:
    if not isinstance(endpoint, str) or not endpoint:
        raise MlflowException(
            f"Invalid endpoint {endpoint!r}: pass the endpoint's name, e.g. "
            "client.set_limit('chat', Limit(calls=50, renewal_period='second')).",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return endpoint


def advertised_admission(target_uri: Any, endpoint: str, limit: Any):
    """The admission of a limit a server reported, or None (no limit, or one we cannot use:
    warned about once, never raised, so a bad server value cannot break predictions)."""
    if limit is None:
        return None
    try:
        key = limit_fields(limit)[2]
        problem = limit_problem(limit)  # non-finite or absurd periods never reach the throttle
        if problem is not None:
            raise MlflowException(problem)
        return admission_for(limit, scope_of(target_uri, endpoint, key))
    except MlflowException as e:
        try:  # the same limit read as JSON or as a Limit warns once
            shown = describe_value(limit_fields(limit))
        except MlflowException:
            shown = describe_value(limit)
        marker = (f"{_target_of(target_uri)}/{endpoint}", shown, None)
        with _warned_lock:
            first = marker not in _warned
            _warned.add(marker)
        if first:
            _logger.warning(
                "Endpoint %r of %s advertises a rate limit the client cannot use, so requests "
                "to it are not throttled: %s",
                endpoint,
                _target_of(target_uri),
                e.message[:300],
            )
        return None


class ClientLimits:
    """A client's limit overrides (``set_limit``), resolved to admissions when set."""

    __slots__ = ("_overrides",)

    def __init__(self) -> None:
        self._overrides: dict[str, tuple[Any, Any]] = {}  # endpoint -> (limit, admission)

    def set(self, target_uri: Any, endpoint: Any, limit: Any, storage_uri: Any = None) -> None:
        name = check_endpoint(endpoint)
        storage_uri = check_storage_uri(storage_uri)
        if limit is None:
            self._overrides[name] = (None, None)
            return
        check_user_limit(limit)  # non-finite, absurd or non-numeric values: a clear error
        _, _, key = limit_fields(limit)
        scope = scope_of(target_uri, name, key)
        self._overrides[name] = (limit, admission_for(limit, scope, storage_uri))

    def clear(self, endpoint: Any = None) -> None:
        if endpoint is None:
            self._overrides.clear()
        else:
            self._overrides.pop(check_endpoint(endpoint), None)

    def get(self, endpoint: Any) -> tuple[Any, Any] | None:
        """``(limit, admission)`` set for ``endpoint``, or None when it has no override."""
        return self._overrides.get(endpoint) if isinstance(endpoint, str) else None


class _Entry:
    __slots__ = ("admission", "expires", "limit", "refreshing", "resolved")

    def __init__(self, limit: Any, expires: float) -> None:
        self.limit = limit
        self.admission: Any = None
        self.resolved = False  # the admission is resolved on first use (and warned about then)
        self.expires = expires
        self.refreshing: concurrent.futures.Future | None = None


class AdvertisedLimits:
    """The limit each endpoint of a gateway advertises, cached and refreshed in the background.

    No prediction waits for this client's lookup to start: the first prediction to an endpoint
    starts the fetch (shared by every concurrent caller, in any thread or event loop: it runs on
    the background runner's loop) and goes through the endpoint's process-wide
    :class:`~mlflow.deployments._provisional.Provisional` admission until an answer arrives
    (one request goes at once, the others wait for the answer, boundedly; every early start is
    counted in the window). Later predictions use the cached value at once; a stale value
    triggers a refresh and stays in force meanwhile. A fetch that fails leaves the endpoint
    unthrottled (or on its last known limit), logged at debug level, and is retried after a
    short delay.
    """

    __slots__ = (
        "_entries",
        "_fetch",
        "_inflight",
        "_lock",
        "_pid",
        "refresh_interval",
        "target_uri",
    )

    def __init__(self, target_uri: Any, fetch, refresh_interval: float) -> None:
        self.target_uri = target_uri
        self._fetch = fetch  # async (endpoint) -> the endpoint's Limit or None; may raise
        self.refresh_interval = refresh_interval
        self._entries: dict[str, _Entry] = {}
        self._inflight: dict[str, concurrent.futures.Future] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def note(self, endpoint: str, limit: Any) -> None:
        """Record a limit seen in a ``get_endpoint`` / ``list_endpoints`` answer."""
        entry = _Entry(limit, time.monotonic() + self.refresh_interval)
        self._entries[endpoint] = entry
        self._promote(endpoint, entry)

    def forget(self) -> None:
        self._entries.clear()

    def _key(self, endpoint: str) -> str:
        return f"{_target_of(self.target_uri)}/{quote(endpoint, safe='')}"

    def _resolve(self, endpoint: str, entry: _Entry) -> Any:
        if not entry.resolved:
            entry.admission = advertised_admission(self.target_uri, endpoint, entry.limit)
            entry.resolved = True
        return entry.admission

    def _promote(self, endpoint: str, entry: _Entry) -> None:
        # Predictions made while the limit was unknown wait on (and were counted by) the
        # endpoint's provisional admission: hand it the answer.
        pending = _provisional.provisional(self._key(endpoint), create=False)
        if pending is not None:
            pending.promote(self._resolve(endpoint, entry))

    async def admission(self, endpoint: str):
        """The admission of ``endpoint``'s advertised limit, or None (not throttled). Never
        waits for the lookup: while it runs, the endpoint's provisional admission applies."""
        if self._pid != os.getpid():
            self._after_fork()
        pending = _provisional.provisional(self._key(endpoint), create=False)
        if pending is not None and not pending.known:
            # A lookup is under way, or early starts are still being carried into the window:
            # queue behind them.
            if endpoint not in self._entries:
                self._start_fetch(endpoint)  # deduplicated; keeps an answer coming
            return pending
        entry = self._entries.get(endpoint)
        if entry is None:
            # Created before the fetch starts, so the fetch's answer always finds it.
            pending = _provisional.provisional(self._key(endpoint))
            self._start_fetch(endpoint)
            # Known from another client's lookup: throttled at once (our own lookup refreshes).
            return pending.admission if pending.known else pending
        if entry.expires <= time.monotonic() and (
            entry.refreshing is None or entry.refreshing.done()  # done: it was cancelled
        ):
            entry.refreshing = self._start_fetch(endpoint)
        return self._resolve(endpoint, entry)

    def _after_fork(self) -> None:
        # The parent's fetches ran on its runner loop, which this process does not have.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._inflight = {}
        for entry in self._entries.values():
            entry.refreshing = None

    def _start_fetch(self, endpoint: str) -> concurrent.futures.Future:
        with self._lock:
            future = self._inflight.get(endpoint)
            if future is None:
                future = asyncio.run_coroutine_threadsafe(
                    self._refresh(endpoint), get_runner().loop
                )
                self._inflight[endpoint] = future
            return future

    async def _refresh(self, endpoint: str) -> None:
        try:
            # The fetch is the client's own business: no `throttle` block of the caller applies.
            with throttle(None):
                limit = await self._fetch(endpoint)
        except Exception as e:
            _logger.debug(
                "Could not read the rate limit of endpoint %r from %s (%s); its requests are "
                "not throttled until a later read succeeds.",
                endpoint,
                _target_of(self.target_uri),
                e,
            )
            retry_at = time.monotonic() + min(_RETRY_FAILED_FETCH, self.refresh_interval)
            old = self._entries.get(endpoint)
            entry = _Entry(None if old is None else old.limit, retry_at)  # keep the last known
            if old is not None:
                entry.admission, entry.resolved = old.admission, old.resolved
            self._entries[endpoint] = entry
            self._promote(endpoint, entry)  # those waiting go: unthrottled, or on the last limit
        else:
            self.note(endpoint, limit)
        finally:
            with self._lock:
                self._inflight.pop(endpoint, None)
