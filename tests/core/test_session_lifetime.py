"""Sessions live as long as their event loop, and no longer."""

from __future__ import annotations

import asyncio
import gc

from async_core import get_session_pool
from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request


def test_short_lived_loops_leave_no_session_behind(recording_server):
    creds = MlflowHostCreds(recording_server.url)
    loops = []

    async def one_call():
        loops.append(asyncio.get_running_loop())
        return (await ahttp_request(creds, "/x", "GET")).status_code

    statuses = [asyncio.run(one_call()) for _ in range(5)]
    gc.collect()
    assert statuses == [200] * 5
    assert len(recording_server.attempts) == 5
    for loop in loops:
        assert loop not in get_session_pool()._entries


def test_a_loop_closed_without_shutdown_is_dropped_at_the_next_session(recording_server):
    creds = MlflowHostCreds(recording_server.url)
    pool = get_session_pool()
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(ahttp_request(creds, "/x", "GET")).status_code == 200
        assert loop in pool._entries
        # Closed without shutdown_asyncgens: its closer never ran. Close the session by hand
        # (as a careful user would) so only the bookkeeping is under test.
        loop.run_until_complete(pool._entries[loop][0].close())
    finally:
        loop.close()

    async def another_call():
        return (await ahttp_request(creds, "/x", "GET")).status_code

    assert asyncio.run(another_call()) == 200
    assert loop not in pool._entries
