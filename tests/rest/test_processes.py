"""Whole-process behaviour, each in a fresh interpreter against the loopback server: a clean exit
under ``-W error``, fork(), and Ctrl-C during a blocking call."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import Reply

ROOT = Path(__file__).resolve().parents[2]
WARNING_MARKERS = ("Unclosed", "ResourceWarning", "Exception ignored", "Traceback")


def start(script: str, *args: str, python_flags: tuple[str, ...] = ()) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT",
                 "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, *python_flags, "-c", textwrap.dedent(script), *args],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,  # its own process group: we can kill all of it
    )


def finish(process: subprocess.Popen, timeout: float = 60, stdin: str | None = None):
    try:
        return process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"subprocess timed out\nstdout:\n{out}\nstderr:\n{err}")


def read_line(process: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


CLEAN_EXIT = """
    import asyncio, sys
    from mlflow.exceptions import MlflowException
    from mlflow.utils.rest_utils import MlflowHostCreds, ahttp_request, http_request

    creds = MlflowHostCreds(sys.argv[1])
    fast = dict(backoff_factor=0, backoff_jitter=0)
    assert http_request(creds, "/sync", "POST", json={"a": 1}, **fast).json() == {"ok": True}
    assert list(http_request(creds, "/sync-stream", "GET", stream=True).iter_lines())
    assert http_request(creds, "/retry", "GET", **fast).status_code == 200
    try:
        http_request(MlflowHostCreds(sys.argv[2]), "/refused", "GET", max_retries=1, **fast)
    except MlflowException:
        pass

    async def main():
        assert (await ahttp_request(creds, "/async", "GET", **fast)).status_code == 200
        stream = await ahttp_request(creds, "/async-stream", "GET", stream=True)
        assert [line async for line in stream.aiter_lines()]
        # Blocking and awaited calls mixed on this loop.
        assert http_request(creds, "/sync-in-loop", "GET").status_code == 200

    asyncio.run(main())
    asyncio.run(main())  # a second loop gets (and closes) its own session
    print("DONE")
"""


def test_clean_exit_under_w_error(recording_server):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}"
    recording_server.script(Reply(json={"ok": True}), Reply(body="a\nb"), Reply(503), Reply(200))
    process = start(CLEAN_EXIT, recording_server.url, refused, python_flags=("-W", "error"))
    out, err = finish(process)
    assert process.returncode == 0, err
    assert "DONE" in out
    for marker in WARNING_MARKERS:
        assert marker not in err, err
    assert "/async-stream" in recording_server.paths()


FORK = """
    import os, sys
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    creds = MlflowHostCreds(sys.argv[1])
    assert http_request(creds, "/parent-before", "GET").status_code == 200
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            response = http_request(creds, "/child", "GET", max_retries=0, timeout=20)
            code = 0 if response.status_code == 200 else 2
        except BaseException as e:
            print("child failed:", repr(e), file=sys.stderr, flush=True)
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status), flush=True)
    assert http_request(creds, "/parent-after", "GET").status_code == 200
    print("DONE")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_gets_a_fresh_runner_and_session(recording_server):
    process = start(FORK, recording_server.url)
    out, err = finish(process)
    assert process.returncode == 0, err
    assert "child exit 0" in out and "DONE" in out, (out, err)
    by_path = {a.path: a for a in recording_server.attempts}
    assert set(by_path) == {"/parent-before", "/child", "/parent-after"}
    # The child opened its own connection rather than writing on the parent's socket.
    assert by_path["/child"].port != by_path["/parent-before"].port
    assert by_path["/child"].port != by_path["/parent-after"].port


CTRL_C = """
    import sys
    from mlflow.utils.rest_utils import MlflowHostCreds, http_request

    creds = MlflowHostCreds(sys.argv[1])
    try:
        http_request(creds, "/slow", "GET", max_retries=0, timeout=120)
        print("NOT INTERRUPTED", flush=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    sys.stdin.readline()  # stay alive until the test has looked at the server
    # The runner still works after the interrupt.
    print("after", http_request(creds, "/after", "GET").status_code, flush=True)
"""


def test_ctrl_c_interrupts_a_blocking_call_and_cancels_the_request(recording_server):
    recording_server.script(Reply(200, delay=60))
    process = start(CTRL_C, recording_server.url)
    try:
        assert recording_server.arrived.wait(30), "the request never reached the server"
        assert not recording_server.cancelled.is_set()
        process.send_signal(signal.SIGINT)
        line = read_line(process, 30)
        assert line.strip() == "KeyboardInterrupt"
        # Cancelled by the interrupt itself: the subprocess is still alive at this point.
        assert recording_server.cancelled.wait(10)
        assert process.poll() is None
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    out, err = finish(process, stdin="go\n")
    assert process.returncode == 0, err
    assert "after 200" in out
    assert recording_server.paths() == ["/slow", "/after"]
    assert recording_server.attempts[0].cancelled
