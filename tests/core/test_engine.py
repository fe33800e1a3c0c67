"""The retry engine with a fake clock and a scripted transport: no real sleeping."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from email.utils import format_datetime

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from async_core import (
    DeadlineExceeded,
    InvalidURL,
    ProtocolError,
    ReadError,
    Request,
    RetriesExhausted,
    RetryAfterBeyondDeadline,
    RetryPolicy,
    TLSError,
    TransportError,
    send,
)

from .fakes import FakeClock, ScriptedTransport


def policy(**kw) -> RetryPolicy:
    kw.setdefault("backoff_factor", 1)
    kw.setdefault("backoff_jitter", 0)
    return RetryPolicy(**kw)


async def run(script, pol: RetryPolicy, *, duration=0.0, raise_on_status=False, **kw):
    clock = FakeClock()
    transport = ScriptedTransport(script, clock, duration)
    start = clock.now
    try:
        response = await send(
            Request("POST", "http://svc.test/x", {"A": "1"}, b"body"),
            pol,
            transport=transport,
            clock=clock,
            raise_on_status=raise_on_status,
            **kw,
        )
    except BaseException as e:
        return None, e, transport, clock, start
    return response, None, transport, clock, start


def gaps(transport: ScriptedTransport) -> list[float]:
    s = transport.starts
    return [round(b - a, 9) for a, b in zip(s, s[1:], strict=False)]


# --- waits ----------------------------------------------------------------------------------
async def test_backoff_wait_sequence_between_attempts():
    response, error, transport, clock, _ = await run([503, 500, 502, 504, 200], policy())
    assert error is None and response.status == 200
    assert transport.attempts == 5
    assert gaps(transport) == [0.0, 2.0, 4.0, 8.0]
    assert sum(clock.sleeps) == 14.0


async def test_jitter_comes_from_the_policy_rng():
    class Rng:
        def __init__(self):
            self.calls = 0

        def uniform(self, a, b):
            self.calls += 1
            return b  # the maximum jitter, deterministically

    rng = Rng()
    _, error, transport, _, _ = await run(
        [503, 503, 503, 200], policy(backoff_factor=0.5, backoff_jitter=0.25, rng=rng)
    )
    assert error is None
    assert gaps(transport) == [0.0, 1.25, 2.25]
    assert rng.calls == 2


async def test_retry_after_wins_over_backoff():
    _, error, transport, _, _ = await run(
        [(503, {"Retry-After": "7"}), (429, {"Retry-After": "0.5"}), 503, 200],
        policy(backoff_factor=3),
    )
    assert error is None
    # 7 s and 0.5 s as the server asked, then the third failure's backoff: 3 * 2**2.
    assert gaps(transport) == [7.0, 0.5, 12.0]


async def test_retry_after_http_date_is_relative_to_the_clock_wall_time():
    clock = FakeClock()
    when = format_datetime(datetime.fromtimestamp(clock.wall + 30, tz=timezone.utc), usegmt=True)
    transport = ScriptedTransport([(503, {"Retry-After": when}), 200], clock)
    response = await send(Request("GET", "http://svc.test/"), policy(), transport=transport,
                          clock=clock)
    assert response.status == 200
    assert gaps(transport) == [pytest.approx(30.0)]


async def test_413_with_retry_after_is_retried_even_if_not_a_retry_code():
    _, error, transport, _, _ = await run(
        [(413, {"Retry-After": "2"}), 200], policy(retry_statuses=frozenset())
    )
    assert error is None and transport.attempts == 2 and gaps(transport) == [2.0]


async def test_respect_retry_after_off_ignores_the_header():
    response, _, transport, _, _ = await run(
        [(429, {"Retry-After": "2"}), 200], policy(respect_retry_after=False,
                                                   retry_statuses=frozenset({503}))
    )
    assert response.status == 429 and transport.attempts == 1
    _, _, transport, _, _ = await run(
        [(503, {"Retry-After": "50"}), 503, 200], policy(respect_retry_after=False)
    )
    assert gaps(transport) == [0.0, 2.0]


async def test_non_retryable_status_is_returned_at_once():
    response, error, transport, _, _ = await run([404, 200], policy())
    assert error is None and response.status == 404 and transport.attempts == 1


# --- exhaustion and releases -----------------------------------------------------------------
async def test_exhausted_retries_return_the_last_response_and_release_the_others():
    response, error, transport, _, _ = await run([503], policy(max_retries=3, backoff_factor=0))
    assert error is None
    assert transport.attempts == 4
    assert response is transport.responses[-1] and response.status == 503
    assert [r.released for r in transport.raws] == [1, 1, 1, 0]
    assert not any(r.closed for r in transport.raws)
    assert response.is_stream  # the caller still owns it


async def test_exhausted_retries_with_raise_on_status():
    _, error, transport, _, _ = await run(
        [500, 429], policy(max_retries=2, backoff_factor=0), raise_on_status=True
    )
    assert isinstance(error, RetriesExhausted)
    assert (error.status, error.attempts) == (429, 3)
    assert "429" in str(error)
    assert [r.released for r in transport.raws] == [1, 1, 1]


async def test_raise_on_status_does_not_raise_for_a_final_non_retryable_status():
    response, error, _, _, _ = await run([503, 400], policy(), raise_on_status=True)
    assert error is None and response.status == 400


async def test_every_retried_response_is_released_before_the_wait():
    _, error, transport, clock, _ = await run([503, 503, 503, 200], policy())
    assert error is None
    events = [(kind, ix) for kind, _, ix in clock.log if kind != "sleep"]
    # attempt i, then its release, and only then the next attempt (the wait sits in between).
    assert events == [
        ("attempt", 0), ("release", 0), ("attempt", 1), ("release", 1),
        ("attempt", 2), ("release", 2), ("attempt", 3),
    ]
    for position, (kind, _, _value) in enumerate(clock.log):
        if kind == "sleep":
            assert clock.log[position - 1][0] == "release"


async def test_max_retries_zero_means_one_attempt():
    response, error, transport, _, _ = await run([503, 200], policy(max_retries=0))
    assert error is None and response.status == 503 and transport.attempts == 1


# --- the total deadline ----------------------------------------------------------------------
async def test_no_attempt_starts_after_the_deadline():
    response, error, transport, clock, start = await run(
        [503], policy(max_retries=10, backoff_factor=0, total_timeout=3.5), duration=1.0
    )
    assert error is None and response.status == 503
    assert transport.attempts == 4  # started at 0, 1, 2, 3 s; the 4th ended past 3.5 s
    assert all(t < start + 3.5 for t in transport.starts)
    # Each attempt is told how much time is left.
    assert transport.total_timeouts == [pytest.approx(start + 3.5 - t) for t in transport.starts]


async def test_no_sleep_crosses_the_deadline():
    response, error, transport, clock, start = await run(
        [503], policy(max_retries=10, total_timeout=10)
    )
    assert error is None and response.status == 503
    assert gaps(transport) == [0.0, 2.0, 4.0]  # the next wait (8 s) would end at 14 s > 10 s
    assert clock.now < start + 10
    for _kind, at, seconds in (e for e in clock.log if e[0] == "sleep"):
        assert at + seconds < start + 10


async def test_backoff_beyond_the_deadline_with_raise_on_status():
    _, error, transport, _, _ = await run(
        [503], policy(max_retries=10, total_timeout=10), raise_on_status=True
    )
    assert isinstance(error, RetriesExhausted) and error.status == 503
    assert transport.attempts == 4
    assert all(r.released == 1 for r in transport.raws)


async def test_retry_after_beyond_the_deadline_stops_at_once():
    _, error, transport, clock, _ = await run(
        [(503, {"Retry-After": "30"}), 200], policy(total_timeout=10)
    )
    assert isinstance(error, RetryAfterBeyondDeadline)
    assert isinstance(error, DeadlineExceeded)
    assert (error.retry_after, error.status, error.attempts) == (30.0, 503, 1)
    assert "30" in str(error) and "503" in str(error)
    assert transport.attempts == 1 and clock.sleeps == []
    assert transport.raws[0].released == 1


async def test_retry_after_within_then_beyond_the_deadline():
    _, error, transport, clock, _ = await run(
        [(429, {"Retry-After": "3"}), (429, {"Retry-After": "8"})], policy(total_timeout=10)
    )
    assert isinstance(error, RetryAfterBeyondDeadline)
    assert error.retry_after == 8.0 and transport.attempts == 2
    assert clock.sleeps == [3.0]
    assert "8" in str(error)


async def test_retry_after_beyond_the_deadline_even_with_raise_on_status_false():
    _, error, _, _, _ = await run(
        [(503, {"Retry-After": "60"})], policy(total_timeout=5), raise_on_status=False
    )
    assert isinstance(error, RetryAfterBeyondDeadline) and error.retry_after == 60.0


async def test_connection_errors_until_the_deadline():
    cause = aiohttp.ClientConnectionError("refused")
    _, error, transport, _, start = await run([cause], policy(max_retries=10, total_timeout=5))
    assert isinstance(error, DeadlineExceeded)
    assert not isinstance(error, RetryAfterBeyondDeadline)
    assert transport.attempts == 3  # at 0, 0 and 2 s; the next wait (4 s) would end at 6 s
    # The last transport error, as the engine's own type (never the library's).
    assert isinstance(error.__cause__, ReadError) and error.__cause__.cause == type(cause).__name__
    assert error.__cause__.__cause__ is None and error.__cause__.__context__ is None
    assert "5" in str(error)


async def test_zero_deadline_makes_no_attempt():
    _, error, transport, _, _ = await run([200], policy(total_timeout=0))
    assert isinstance(error, DeadlineExceeded) and transport.attempts == 0


async def test_no_deadline_by_default():
    _, error, transport, _, _ = await run([(503, {"Retry-After": "3600"}), 200], policy())
    assert error is None and gaps(transport) == [3600.0]


# --- exceptions ------------------------------------------------------------------------------
RETRYABLE = [
    aiohttp.ClientConnectionError("reset"),
    aiohttp.ServerDisconnectedError(),
    aiohttp.ClientOSError(104, "Connection reset by peer"),
    aiohttp.ClientPayloadError("truncated"),
    aiohttp.ServerTimeoutError("read timeout"),
    asyncio.TimeoutError(),
]


@pytest.mark.parametrize("exc", RETRYABLE, ids=lambda e: type(e).__name__)
async def test_transport_errors_are_retried(exc):
    response, error, transport, _, _ = await run([exc, exc, 200], policy())
    assert error is None and response.status == 200 and transport.attempts == 3
    assert gaps(transport) == [0.0, 2.0]


NOT_RETRYABLE = [
    (ValueError("bad"), ValueError),
    (TLSError("certificate verify failed"), TLSError),
    (aiohttp.InvalidURL("http://"), InvalidURL),
    (aiohttp.TooManyRedirects(None, ()), ProtocolError),
    (aiohttp.ClientResponseError(None, (), status=500), ProtocolError),
    (RuntimeError("boom"), RuntimeError),
]


@pytest.mark.parametrize(("exc", "expected"), NOT_RETRYABLE, ids=lambda e: type(e).__name__)
async def test_other_errors_are_not_retried(exc, expected):
    _, error, transport, clock, _ = await run([exc, 200], policy())
    assert type(error) is expected and transport.attempts == 1 and clock.sleeps == []
    if not isinstance(exc, aiohttp.ClientError):
        assert error is exc  # not ours to translate: a bug or our own error, as raised
    else:
        assert error.__cause__ is None and error.__context__ is None


async def test_tls_error_is_never_retried_even_among_retryable_errors():
    tls = TLSError("handshake failure")
    _, error, transport, _, _ = await run(
        [aiohttp.ClientConnectionError("x"), tls, 200], policy(max_retries=5)
    )
    assert error is tls and transport.attempts == 2


async def test_the_last_transport_error_is_raised_when_retries_run_out():
    errors = [aiohttp.ServerDisconnectedError(), aiohttp.ClientConnectionError("last")]
    _, error, transport, _, _ = await run(errors, policy(max_retries=2, backoff_factor=0))
    assert transport.attempts == 3 and isinstance(error, ReadError)
    assert error.cause == "ClientConnectionError" and error.attempts == 3


async def test_errors_after_responses_release_the_responses():
    _, error, transport, _, _ = await run([503, 500, ValueError("x")], policy())
    assert isinstance(error, ValueError)
    assert [r.released for r in transport.raws] == [1, 1]


async def test_cancellation_is_not_retried():
    _, error, transport, _, _ = await run([asyncio.CancelledError(), 200], policy())
    assert isinstance(error, asyncio.CancelledError) and transport.attempts == 1


# --- auth and admission hooks ----------------------------------------------------------------
async def test_auth_signs_every_attempt():
    signed: list[Request] = []

    async def auth(request: Request) -> Request:
        clone = request.copy_with_headers({**request.headers, "X-Sig": str(len(signed))})
        signed.append(clone)
        return clone

    _, error, transport, _, _ = await run([503, 503, 200], policy(backoff_factor=0), auth=auth)
    assert error is None
    assert transport.requests == signed
    assert [r.headers["X-Sig"] for r in transport.requests] == ["0", "1", "2"]
    assert all(r.body == b"body" and r.headers["A"] == "1" for r in transport.requests)


class FakeSlot:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def started(self) -> None:
        self.log.append("started")

    def release(self) -> None:
        self.log.append("release")


class FakeAdmission:
    def __init__(self, fail: bool = False) -> None:
        self.reserved: list[float | None] = []
        self.paused: list[float] = []
        self.log: list[str] = []
        self.fail = fail

    async def reserve(self, timeout=None):
        self.reserved.append(timeout)
        self.log.append("reserve")
        if self.fail:
            raise asyncio.TimeoutError
        return FakeSlot(self.log)

    def pause(self, seconds):
        self.paused.append(seconds)


async def test_admission_slot_per_attempt_and_429_retry_after_pauses_it():
    admission = FakeAdmission()
    _, error, transport, _, _ = await run(
        [(429, {"Retry-After": "4"}), (503, {"Retry-After": "1"}), ValueError("x")],
        policy(total_timeout=100),
        admission=admission,
    )
    assert isinstance(error, ValueError) and transport.attempts == 3
    assert len(admission.reserved) == 3
    assert admission.reserved[0] == pytest.approx(100)
    # Each slot is marked started when on the wire and always given back, even on an error.
    assert admission.log == ["reserve", "started", "release"] * 3
    assert admission.paused == [4.0]  # only a 429 pauses the client-side throttle


async def test_admission_timeout_is_a_deadline_error():
    _, error, transport, _, _ = await run(
        [200], policy(total_timeout=10), admission=FakeAdmission(fail=True)
    )
    assert isinstance(error, DeadlineExceeded) and transport.attempts == 0
    assert "rate-limit" in str(error)


# --- one outcome per request, whatever the script --------------------------------------------
STATUS = st.sampled_from([200, 201, 400, 404, 413, 429, 500, 502, 503])
RETRY_AFTER = st.sampled_from([None, "0", "1", "2.5", "7", "40", "-3", "later"])
EXC = st.sampled_from(
    [aiohttp.ClientConnectionError, aiohttp.ServerDisconnectedError, asyncio.TimeoutError,
     aiohttp.ClientPayloadError, TLSError, ValueError]
)
OUTCOME = st.one_of(
    st.tuples(STATUS, RETRY_AFTER).map(
        lambda p: (p[0], {} if p[1] is None else {"Retry-After": p[1]})
    ),
    EXC.map(lambda cls: ("raise", cls)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=st.lists(OUTCOME, min_size=1, max_size=8),
    max_retries=st.integers(0, 6),
    factor=st.sampled_from([0, 0.5, 1, 3]),
    jitter=st.sampled_from([0, 0.7]),
    total=st.one_of(st.none(), st.floats(0.5, 60)),
    duration=st.sampled_from([0, 0.2, 1.5]),
    respect=st.booleans(),
    raise_on_status=st.booleans(),
)
def test_exactly_one_outcome_and_all_invariants(
    script, max_retries, factor, jitter, total, duration, respect, raise_on_status
):
    # Fresh exception instances per attempt, as a transport would raise.
    realized = []
    for item in script:
        if item[0] == "raise":
            cls = item[1]
            realized.append(cls("x") if cls in (TLSError, ValueError, aiohttp.ClientPayloadError,
                                                aiohttp.ClientConnectionError) else cls())
        else:
            realized.append(item)
    pol = RetryPolicy(
        max_retries=max_retries, backoff_factor=factor, backoff_jitter=jitter,
        total_timeout=total, respect_retry_after=respect,
    )
    response, error, transport, clock, start = asyncio.run(
        run(realized, pol, duration=duration, raise_on_status=raise_on_status)
    )
    assert (response is None) != (error is None), "exactly one of a response or an error"
    assert 0 < transport.attempts <= max_retries + 1
    if total is not None:
        deadline = start + total
        assert all(t < deadline for t in transport.starts)
        for _kind, at, seconds in (e for e in clock.log if e[0] == "sleep"):
            assert at + seconds < deadline
    last = realized[min(transport.attempts, len(realized)) - 1]
    if response is not None:
        assert response is transport.responses[-1]
        assert transport.raws[-1].released == 0
        assert all(r.released == 1 for r in transport.raws[:-1])
        if raise_on_status:
            assert not pol.is_retryable_status(response.status, response.headers)
    else:
        assert all(r.released == 1 for r in transport.raws)
        if isinstance(last, (ValueError, TLSError)):
            assert error is last  # not the library's: raised as it was
        elif not isinstance(error, (DeadlineExceeded, RetriesExhausted)):
            # a transport error surfaces as the engine's own, from the last attempt
            assert isinstance(error, TransportError) and not isinstance(error, aiohttp.ClientError)
            assert error.cause == type(last).__name__ and error.attempts == transport.attempts
        if isinstance(error, RetriesExhausted):
            assert raise_on_status and error.status == transport.responses[-1].status
    # A deterministic failure ends the request where it happened.
    for index, outcome in enumerate(realized[: transport.attempts - 1]):
        assert not isinstance(outcome, (TLSError, ValueError)), (index, outcome)
    assert not any(r.closed for r in transport.raws)
