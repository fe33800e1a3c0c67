"""Client-side throttling by a rate ``Limit`` for any ``http_request`` / ``ahttp_request`` call.

.. code-block:: python

    from mlflow.gateway.config import Limit
    from mlflow.utils.throttling import throttle

    with throttle(Limit(calls=50, renewal_period="second"), scope="my-api"):
        for payload in payloads:  # blocking code
            http_request(host_creds, "/invocations", "POST", json=payload)

    async with throttle({"calls": 50, "renewal_period": "second"}, scope="my-api"):
        await asyncio.gather(*(ahttp_request(...) for payload in payloads))  # async code

Inside the block every request *attempt* (retries included) takes a start slot from the
process-wide throttle (``async_core.throttle``) for ``scope``: at most ``calls`` attempts start
in any interval of ``renewal_period``, shared by every thread, event loop and client that uses
the same scope and limit. Waiting for a slot counts against the request's total deadline.

The block is context-local (a :mod:`contextvars` variable): it covers the tasks it creates and
blocking calls made in it (the background runner starts their work from the caller's context),
and ``asyncio.to_thread`` work; not other threads, nor ``ThreadPoolExecutor.submit`` work (run
that with ``contextvars.copy_context().run``). Blocks nest, and every active limit applies;
``throttle(None)`` suspends the enclosing ones.

Shared quotas. With ``storage_uri="redis://host:port/db"`` (or ``rediss://`` for TLS) the
window lives in Redis: every process, on any machine, that names the same scope and limit
shares one sliding window, so a fleet of batch workers together never exceeds the limit.
Without it, ``throttle_storage(uri)`` blocks and then ``MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI``
give the default; unset, the window is this process's (``memory://``).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from typing import Any

from async_core.limits import open_store
from async_core.throttle import Admission, get_throttle
from mlflow.environment_variables import MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

__all__ = [
    "Throttled",
    "admission_for",
    "combine",
    "current_admission",
    "limit_fields",
    "storage_uri_default",
    "throttle",
    "throttle_storage",
]


class _Frame:
    """One active ``throttle`` block: what it applies, and the block it is nested in."""

    __slots__ = ("admission", "owner", "parent")

    def __init__(self, owner: object, parent: _Frame | None, admission: Any) -> None:
        self.owner = owner
        self.parent = parent
        self.admission = admission


# A linked stack per context, so one `throttle` object may be entered by many tasks at once.
_ACTIVE: contextvars.ContextVar[_Frame | None] = contextvars.ContextVar(
    "mlflow_throttle", default=None
)


def current_admission() -> Admission | Throttled | None:
    """The admission of the innermost active ``throttle`` block of this context, if any."""
    frame = _ACTIVE.get()
    return None if frame is None else frame.admission


def limit_fields(limit: Any) -> tuple[Any, Any, Any]:
    """``(calls, renewal_period, key)`` of a ``Limit``, or of a mapping with those keys."""
    if isinstance(limit, Mapping):
        return limit.get("calls"), limit.get("renewal_period"), limit.get("key")
    if hasattr(limit, "calls") and hasattr(limit, "renewal_period"):
        return limit.calls, limit.renewal_period, getattr(limit, "key", None)
    raise MlflowException(
        f"Invalid limit {limit!r}: pass a mlflow.gateway.config.Limit such as "
        "Limit(calls=50, renewal_period='second'), or a dict with 'calls' and 'renewal_period'.",
        error_code=INVALID_PARAMETER_VALUE,
    )


_STORAGE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "mlflow_throttle_storage", default=None
)


def check_storage_uri(uri: Any) -> str | None:
    """``uri`` if it names a store the throttle can use; else ``MlflowException`` naming it
    (without its password) and the accepted forms."""
    if uri is None:
        return None
    try:
        open_store(uri)
    except ValueError as e:
        raise MlflowException(f"{e}", error_code=INVALID_PARAMETER_VALUE) from None
    return uri


def storage_uri_default() -> str | None:
    """The innermost ``throttle_storage`` block's URI, else
    ``MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI``, else None (this process only)."""
    return _STORAGE.get() or MLFLOW_DEPLOYMENTS_THROTTLE_STORAGE_URI.get() or None


class throttle_storage:  # lower case: used like a function
    """Limits resolved in the block (``set_limit``, advertised limits, ``throttle``) without a
    ``storage_uri`` of their own keep their window in ``uri`` (e.g. ``"redis://host:6379/0"``)."""

    __slots__ = ("_token", "uri")

    def __init__(self, uri: str | None) -> None:
        self.uri = check_storage_uri(uri)
        self._token: contextvars.Token | None = None

    def __enter__(self) -> throttle_storage:
        self._token = _STORAGE.set(self.uri)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _STORAGE.reset(self._token)
            self._token = None


def admission_for(limit: Any, scope: str, storage_uri: str | None = None) -> Admission:
    """The admission of ``limit`` for ``scope``, in ``storage_uri``'s store (default:
    :func:`storage_uri_default`); a bad limit or URI raises ``MlflowException``
    (``INVALID_PARAMETER_VALUE``) that names the value and the fix."""
    calls, period, _ = limit_fields(limit)
    if storage_uri is None:
        storage_uri = storage_uri_default()
    try:
        return get_throttle().admission(scope, calls, period, storage_uri)
    except ValueError as e:  # the throttle's messages name the value and the accepted forms
        raise MlflowException(f"{e}", error_code=INVALID_PARAMETER_VALUE) from None


class _JointSlot:
    """The slots of every part of a :class:`Throttled`, started and released together."""

    __slots__ = ("_slots",)

    def __init__(self, slots: list[Any]) -> None:
        self._slots = slots

    def started(self) -> None:
        for slot in self._slots:
            slot.started()

    def release(self) -> None:
        for slot in self._slots:
            slot.release()


class Throttled:
    """Several admissions that must all let a request start (e.g. an endpoint's limit inside a
    ``throttle`` block). Slots are taken in order; waiting in a later part keeps the earlier
    slots pending, which is safe (they count as starting now) and gives them back on failure."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[Any, ...]) -> None:
        self.parts = parts

    async def reserve(self, timeout: float | None = None) -> _JointSlot:
        deadline = None if timeout is None else time.monotonic() + timeout
        slots: list[Any] = []
        try:
            for part in self.parts:
                left = None if deadline is None else deadline - time.monotonic()
                slots.append(await part.reserve(left))
        except BaseException:
            for slot in slots:
                slot.release()
            raise
        return _JointSlot(slots)

    async def acquire(self, timeout: float | None = None) -> None:
        """Take a start in every part, recorded as starting now."""
        slot = await self.reserve(timeout)
        slot.started()
        slot.release()

    def pause(self, seconds: float) -> None:
        # The server asked this request to wait: every limit it went through waits.
        for part in self.parts:
            part.pause(seconds)

    def __repr__(self) -> str:
        return f"<Throttled {list(self.parts)!r}>"


def combine(*admissions: Any) -> Any:
    """One admission that applies each of ``admissions`` (``None`` entries are skipped)."""
    parts: list[Any] = []
    for admission in admissions:
        members = admission.parts if isinstance(admission, Throttled) else (admission,)
        for member in members:
            if member is not None and all(member is not p for p in parts):
                parts.append(member)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Throttled(tuple(parts))


class throttle:  # lower case: used like a function, `with throttle(limit, scope=...)`
    """Throttle every ``http_request`` / ``ahttp_request`` made in the block by ``limit``.

    Args:
        limit: A ``mlflow.gateway.config.Limit`` (or a dict with ``calls``, ``renewal_period``
            and optionally ``key``), or ``None`` to suspend the enclosing blocks' limits.
        scope: Who shares the limit: every block (in any thread or event loop) with the same
            scope and limit shares one budget. Defaults to the limit's ``key``; one of the two
            is required. Use, e.g., the API's base URL.
        storage_uri: ``"redis://host:port/db"`` or ``"rediss://..."`` to share the budget with
            every process (on any machine) that uses the same scope, limit and store;
            ``"memory://"`` for this process only. Default: :func:`storage_uri_default`.

    Works as ``with`` and as ``async with``; the limit is checked when the object is created.
    """

    __slots__ = ("admission", "scope")

    def __init__(
        self, limit: Any, scope: str | None = None, storage_uri: str | None = None
    ) -> None:
        if limit is None:
            self.scope, self.admission = scope, None
            return
        _, _, key = limit_fields(limit)
        scope = scope if scope is not None else key
        if not isinstance(scope, str) or not scope:
            raise MlflowException(
                f"Invalid throttle scope {scope!r}: pass scope='<name>' (e.g. the API's base "
                "URL), or a limit with a key; callers that share a scope share the limit.",
                error_code=INVALID_PARAMETER_VALUE,
            )
        self.scope = scope
        self.admission = admission_for(limit, scope, storage_uri)

    def __enter__(self) -> throttle:
        parent = _ACTIVE.get()
        if self.admission is None:
            effective = None
        else:
            effective = combine(parent.admission if parent is not None else None, self.admission)
        _ACTIVE.set(_Frame(self, parent, effective))
        return self

    def __exit__(self, *exc_info: object) -> None:
        frame = _ACTIVE.get()
        if frame is None or frame.owner is not self:
            raise RuntimeError(
                "throttle blocks were exited out of order (or in another context than they were "
                "entered): exit the innermost block first."
            )
        _ACTIVE.set(frame.parent)

    async def __aenter__(self) -> throttle:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)

    def __repr__(self) -> str:
        return f"throttle({self.admission!r})"
