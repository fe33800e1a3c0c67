"""A window store in Redis (``redis.asyncio``), shared by every process and machine using it.

Each admission is ONE server-side Lua script (EVALSHA, loaded with EVAL when the server does
not know it yet): prune, count, decide and record happen atomically on the server, on the
server's clock (``TIME``), so machines with skewed clocks still share one window.

If the server refuses scripts (renamed or disabled EVAL/EVALSHA, an ACL without
``@scripting``, a proxy that blocks Lua), admissions switch, with one warning, to an optimistic
transaction: WATCH the window, read it and the server's clock, decide with the same pure rule
(:func:`async_core.limits.window.next_slot`), and write in MULTI/EXEC, retried when another
client changed the window meanwhile. Still one window for everyone; never a per-process count.

A window is a sorted set: members are starts, scores their times on the server's clock. A
pending start is scored ``now + pending_ttl`` (so it counts at every instant and is forgotten
if its holder dies) until :meth:`RedisStore.started` dates it. Every call is bounded by
``timeout`` seconds: an unreachable server raises :class:`StoreUnavailable`, never hangs.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import random
import time
import weakref
from collections.abc import AsyncGenerator
from typing import Any

from async_core.limits.store import Decision, StoreUnavailable, Window
from async_core.limits.uri import describe
from async_core.limits.window import next_slot

__all__ = ["RedisStore"]

_logger = logging.getLogger(__name__)

# KEYS: window, pause. ARGV: calls, span, pending (0/1), member, now ('' = server time), ttl.
# Returns one string (a Lua number would be truncated to an integer, and one bulk reply parses
# faster than five): "admitted wait remaining reset now".
ADMIT_SCRIPT = """
local calls = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local ttl = tonumber(ARGV[6])
local now
if ARGV[5] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[5])
end
local function f(x) return string.format('%.6f', x) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', f(now - span))
local count = redis.call('ZCARD', KEYS[1])
local at = now
local leave = count - calls + 1
if leave > 0 then
  local score = tonumber(redis.call('ZRANGE', KEYS[1], leave - 1, leave - 1, 'WITHSCORES')[2])
  if score <= now then at = score + span else at = now + span end
end
local paused = redis.call('ZSCORE', KEYS[2], 'until')
if paused and tonumber(paused) > at then at = tonumber(paused) end
local admitted = 0
if at <= now then
  local score = now
  if ARGV[3] == '1' then score = now + ttl end
  redis.call('ZADD', KEYS[1], f(score), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil((span + ttl) * 1000) + 1000)
  count = count + 1
  admitted = 1
end
local reset = 0
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
if oldest then
  oldest = tonumber(oldest)
  if oldest <= now then reset = oldest + span - now else reset = span end
end
local wait = 0
if admitted == 0 then wait = at - now end
return table.concat({admitted, f(wait), math.max(calls - count, 0), f(reset), f(now)}, ' ')
"""

# Markers of a server (or proxy) that will not run scripts at all; anything else is our bug.
_SCRIPTS_REFUSED = ("unknown command", "noperm", "no permission", "not allowed", "disabled")
_WATCH_ATTEMPTS = 64  # and within the store's timeout


class RedisStore:
    """Windows in Redis at ``uri`` (``redis://[user:password@]host:port/db`` or ``rediss://``
    for TLS; redis-py's query options such as ``ssl_ca_certs`` apply).

    ``timeout`` bounds each operation (connect included). ``pending_ttl``: how long a pending
    start holds its place if its holder never settles it. One client per event loop is made
    lazily (a connection belongs to one loop), so one store serves every loop of the process.
    """

    kind = "redis"
    shared = True

    def __init__(
        self,
        uri: str,
        *,
        timeout: float = 1.0,
        pending_ttl: float = 60.0,
        key_prefix: str = "limits:",
        scripts: bool = True,
    ) -> None:
        if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"Invalid store timeout={timeout!r}: use a positive number of s.")
        self._uri = uri
        self.where = describe(uri)  # for messages: no password
        self.timeout = float(timeout)
        self.pending_ttl = float(pending_ttl)
        self.prefix = key_prefix
        self.scripts = scripts  # False once the server refused them
        self._sha: str | None = None
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._warned = False
        self._offset: float | None = None  # server clock - time.monotonic()
        self._ids = itertools.count(1)
        self._tag = ""
        self._pid = -1

    # ------------------------------------------------------------------ plumbing

    def _client(self) -> Any:
        try:
            import redis.asyncio as redis
        except ImportError:
            raise RuntimeError(
                f"The rate-limit store {self.where} needs the redis package: "
                "pip install 'redis>=5' (or the project's [redis] extra)."
            ) from None

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = redis.Redis.from_url(
                self._uri,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry_on_timeout=False,
            )
            closer = self._close_on_loop_shutdown(loop, client)
            # Run it to its first yield: this registers it with the loop (firstiter hook), so
            # shutdown_asyncgens (asyncio.run, the runner) closes the client with its loop.
            try:
                closer.asend(None).send(None)
            except StopIteration:
                pass
            self._clients[loop] = client
            self._closers[loop] = closer
        return client

    async def _close_on_loop_shutdown(
        self, loop: asyncio.AbstractEventLoop, client: Any
    ) -> AsyncGenerator[None, None]:
        try:
            while True:
                yield
        finally:
            if self._clients.get(loop) is client:
                del self._clients[loop]
            self._closers.pop(loop, None)
            try:
                await client.aclose()
            except Exception:  # noqa: BLE001 - closing a client whose server is gone
                pass

    def _member(self, pending: bool) -> str:
        if self._pid != os.getpid():  # unique across processes, forked children included
            self._pid = os.getpid()
            self._tag = f"{os.urandom(6).hex()}.{self._pid}"
        return f"{'p' if pending else 's'}:{self._tag}:{next(self._ids)}"

    def _keys(self, window: Window) -> tuple[str, str]:
        return f"{self.prefix}w:{window.key}", f"{self.prefix}pause:{window.scope}"

    async def _bounded(self, coro: Any, *, wait: bool = False) -> Any:
        """Run one store call; a dead or silent server becomes :class:`StoreUnavailable`.

        The client's socket timeouts bound connecting and every read; ``wait=True`` adds an
        overall bound for calls that may also queue (the transaction fallback's lock)."""
        from redis.exceptions import ConnectionError, TimeoutError

        try:
            if wait:
                return await asyncio.wait_for(coro, self.timeout)
            return await coro
        except (ConnectionError, TimeoutError, asyncio.TimeoutError, OSError) as e:
            raise StoreUnavailable(
                f"Rate-limit store {self.where} is unreachable ({type(e).__name__}; each call "
                f"waits at most {self.timeout:g} s)"
            ) from None

    def clock(self) -> float:
        offset = self._offset
        return time.monotonic() + offset if offset is not None else time.time()

    def _learn_clock(self, server_now: float, sent: float) -> None:
        # The server read its clock after we sent: measuring from `sent` makes our estimate of
        # its clock late, never early, so a start is never dated before it happened (which
        # would let the next one in too soon).
        self._offset = server_now - sent

    # ------------------------------------------------------------------ admission

    async def admit(
        self, window: Window, *, pending: bool = False, now: float | None = None
    ) -> Decision:
        member = self._member(pending)
        sent = time.monotonic()
        if self.scripts:
            reply = await self._bounded(self._run_script(window, member, pending, now))
        else:
            reply = None
        if reply is None:
            reply = await self._bounded(
                self._serialized(window, member, pending, now), wait=True
            )
        admitted, wait, remaining, reset, server_now = reply
        if now is None:
            self._learn_clock(server_now, sent)
        return Decision(
            admitted, wait, remaining, reset, member if admitted else None, server_now
        )

    async def _run_script(
        self, window: Window, member: str, pending: bool, now: float | None
    ) -> tuple | None:
        from redis.exceptions import NoScriptError, ResponseError

        client = self._client()
        keys = self._keys(window)
        args = (
            window.calls,
            repr(window.span),
            "1" if pending else "0",
            member,
            "" if now is None else repr(now),
            repr(self.pending_ttl),
        )
        try:
            try:
                if self._sha is None:
                    raise NoScriptError("not loaded")
                raw = await client.evalsha(self._sha, 2, *keys, *args)
            except NoScriptError:
                raw = await client.eval(ADMIT_SCRIPT, 2, *keys, *args)
                self._sha = await client.script_load(ADMIT_SCRIPT)
        except ResponseError as e:
            text = str(e).lower()
            if not any(marker in text for marker in _SCRIPTS_REFUSED):
                raise
            self.scripts = False
            if self._warned:
                return None
            self._warned = True
            _logger.warning(
                "Rate-limit store %s refuses scripts (%s); admitting with WATCH/MULTI "
                "transactions instead (still one shared window, a little slower).",
                self.where,
                type(e).__name__,
            )
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        admitted, wait, remaining, reset, server_now = text.split(" ")
        return admitted == "1", float(wait), int(remaining), float(reset), float(server_now)

    async def _serialized(
        self, window: Window, member: str, pending: bool, now: float | None
    ) -> tuple:
        # One transaction per loop at a time: concurrent ones of this process would only make
        # each other retry (each WATCH sees the others' writes).
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:
            return await self._transaction(window, member, pending, now)

    async def _transaction(
        self, window: Window, member: str, pending: bool, now: float | None
    ) -> tuple:
        """The same step as the script, as an optimistic transaction (no Lua)."""
        from redis.exceptions import WatchError

        client = self._client()
        wkey, pkey = self._keys(window)
        span, calls = window.span, window.calls
        async with client.pipeline(transaction=True) as pipe:
            for attempt in range(_WATCH_ATTEMPTS):
                try:
                    await pipe.watch(wkey, pkey)
                    if now is None:
                        seconds, micros = await pipe.time()
                        at = seconds + micros / 1_000_000
                    else:
                        at = now
                    entries = await pipe.zrangebyscore(
                        wkey, f"({at - span!r}", "+inf", withscores=True
                    )
                    paused = await pipe.zscore(pkey, "until")
                    scores = [score for _, score in entries]
                    starts = [s for s in scores if s <= at]
                    waiting = len(scores) - len(starts)
                    free_at = next_slot(
                        starts, waiting, calls, span, at,
                        -math.inf if paused is None else paused, at + span,
                    )
                    admitted = free_at <= at
                    pipe.multi()
                    pipe.zremrangebyscore(wkey, "-inf", repr(at - span))
                    count = len(scores)
                    if admitted:
                        pipe.zadd(wkey, {member: at + self.pending_ttl if pending else at})
                        pipe.pexpire(wkey, math.ceil((span + self.pending_ttl) * 1000) + 1000)
                        count += 1
                        scores.append(at + self.pending_ttl if pending else at)
                    await pipe.execute()
                except WatchError:
                    # Another client changed the window between our read and our write.
                    await asyncio.sleep(random.uniform(0, 0.0005 * min(attempt + 1, 8)))
                    continue
                oldest = min(scores) if scores else None
                if oldest is None:
                    reset = 0.0
                else:
                    reset = oldest + span - at if oldest <= at else span
                wait = 0.0 if admitted else free_at - at
                return admitted, wait, max(calls - count, 0), reset, at
        # Heavy contention: refuse this once (never over-admit); the caller retries shortly.
        return False, 0.01, 0, 0.01, at

    # ------------------------------------------------------------------ settling

    async def started(self, window: Window, token: str, at: float | None = None) -> None:
        when = self.clock() if at is None else at
        # XX: only a start still held; an entry forgotten meanwhile stays forgotten.
        await self._bounded(self._client().zadd(self._keys(window)[0], {token: when}, xx=True))

    async def release(self, window: Window, token: str) -> None:
        await self._bounded(self._client().zrem(self._keys(window)[0], token))

    async def pause(self, scope: str, seconds: float) -> None:
        key = f"{self.prefix}pause:{scope}"
        until = self.clock() + seconds
        client = self._client()

        async def extend() -> None:
            ms = math.ceil(seconds * 1000) + 1000
            async with client.pipeline(transaction=True) as pipe:
                pipe.zadd(key, {"until": until}, gt=True)
                pipe.pexpire(key, ms, nx=True)  # a fresh key: GT would see "no expiry" as longer
                pipe.pexpire(key, ms, gt=True)
                await pipe.execute()

        await self._bounded(extend())

    async def ping(self) -> None:
        await self._bounded(self._client().ping())

    async def aclose(self) -> None:
        """Close this loop's connections (other loops' clients close with their loops)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        closer = self._closers.pop(loop, None)
        if closer is not None:
            await closer.aclose()

    def __repr__(self) -> str:
        mode = "script" if self.scripts else "transaction"
        return f"<RedisStore {self.where} {mode}>"
