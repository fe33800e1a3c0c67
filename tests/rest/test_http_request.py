"""http_request and ahttp_request against the loopback server: URL, headers, bodies, redirects,
streaming. Each test runs both the blocking call and its awaitable twin (the ``call`` fixture)."""

from __future__ import annotations

import base64
import io
import re
from urllib.parse import parse_qsl

import pytest
import requests
from aiohttp import web
from conftest import Reply

import mlflow
from mlflow.utils.rest_utils import (
    AsyncStreamResponse,
    MlflowHostCreds,
    ahttp_request,
    http_request,
)

FAST = {"backoff_factor": 0, "backoff_jitter": 0}


def creds(server, **kw) -> MlflowHostCreds:
    return MlflowHostCreds(server.url, **kw)


# --- URL -------------------------------------------------------------------------------------
@pytest.mark.parametrize("host_suffix", ["", "/"])
async def test_url_is_host_without_trailing_slash_plus_endpoint(call, server, host_suffix):
    response = await call(MlflowHostCreds(server.url + host_suffix), "/api/2.0/thing", "GET")
    assert response.status_code == 200
    assert server.attempts[-1].raw_path == "/api/2.0/thing"
    assert response.json() == {"ok": True}
    assert isinstance(response, requests.Response)


async def test_host_with_a_base_path(call, server):
    await call(MlflowHostCreds(server.url + "/prefix/"), "/endpoints/", "GET")
    assert server.attempts[-1].raw_path == "/prefix/endpoints/"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "get", "post"])
async def test_every_method_reaches_the_server(call, server, method):
    response = await call(creds(server), "/m", method)
    assert response.status_code == 200
    assert server.attempts[-1].method == method.upper()


# --- headers ---------------------------------------------------------------------------------
async def test_default_headers(call, server):
    await call(creds(server), "/h", "GET")
    headers = server.attempts[-1].headers
    assert headers["User-Agent"] == f"mlflow-python-client/{mlflow.__version__}"
    assert headers["X-MLflow-Client-Version"] == mlflow.__version__
    assert "Authorization" not in headers
    assert "x-databricks-traffic-id" not in headers


async def test_extra_headers_are_sent_and_win(call, server):
    await call(
        creds(server), "/h", "GET",
        extra_headers={"X-Custom": "yes", "User-Agent": "my-agent/1.0"},
    )
    headers = server.attempts[-1].headers
    assert headers["X-Custom"] == "yes"
    assert headers.getall("User-Agent") == ["my-agent/1.0"]


async def test_extra_headers_win_whatever_their_case(call, server):
    await call(creds(server), "/h", "GET", extra_headers={"user-agent": "lower/2"})
    assert server.attempts[-1].headers.getall("User-Agent") == ["lower/2"]


async def test_basic_auth_from_username_and_password(call, server):
    await call(creds(server, username="alice", password="s3cr:et"), "/h", "GET")
    expected = "Basic " + base64.b64encode(b"alice:s3cr:et").decode()
    assert server.attempts[-1].headers.getall("Authorization") == [expected]


async def test_bearer_token(call, server):
    await call(creds(server, token="tok-123"), "/h", "GET")
    assert server.attempts[-1].headers.getall("Authorization") == ["Bearer tok-123"]


async def test_basic_auth_takes_precedence_over_token(call, server):
    await call(creds(server, username="u", password="p", token="t"), "/h", "GET")
    assert server.attempts[-1].headers["Authorization"].startswith("Basic ")


async def test_username_without_password_sends_no_basic_auth(call, server):
    await call(creds(server, username="u"), "/h", "GET")
    assert "Authorization" not in server.attempts[-1].headers


@pytest.mark.parametrize("name", ["MLFLOW_DATABRICKS_TRAFFIC_ID", "_MLFLOW_DATABRICKS_TRAFFIC_ID"])
async def test_traffic_id_header_from_the_environment(call, server, monkeypatch, name):
    monkeypatch.setenv(name, "testenv://liteswap/abc")
    await call(creds(server), "/h", "GET")
    assert server.attempts[-1].headers["x-databricks-traffic-id"] == "testenv://liteswap/abc"


# --- bodies as requests would send them ------------------------------------------------------
def _boundary(content_type: str | None) -> str | None:
    match = re.search(r"boundary=([^;]+)", content_type or "")
    return match.group(1) if match else None


def _requests_wire(method: str, url: str, **kwargs) -> tuple[bytes, str | None, str]:
    """What requests itself would put on the wire: body, Content-Type, path with query."""
    prepared = requests.Request(method, url, **kwargs).prepare()
    body = prepared.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode("utf-8")
    return body or b"", prepared.headers.get("Content-Type"), prepared.path_url


BODY_CASES = {
    "json-dict": lambda: {"json": {"inputs": [1, 2.5, "é", None], "nested": {"a": True}}},
    "json-list": lambda: {"json": [1, 2, 3]},
    "json-scalar-zero": lambda: {"json": 0},
    "json-empty-dict": lambda: {"json": {}},
    "data-dict": lambda: {"data": {"a": "1", "b": ["x", "y"], "skip": None, "sp ace": "&="}},
    "data-dict-none-in-list": lambda: {"data": {"a": ["1", None, "2"]}},
    "data-tuples": lambda: {"data": [("k", "v1"), ("k", "v2")]},
    "data-bytes": lambda: {"data": b"\x00raw\xffbytes"},
    "data-str": lambda: {"data": "plain text"},
    "data-file": lambda: {"data": io.BytesIO(b"file-like body")},
    "data-wins-over-json": lambda: {"data": {"d": "1"}, "json": {"j": 1}},
    "empty-data-uses-json": lambda: {"data": {}, "json": {"j": 1}},
    "files": lambda: {"files": {"f": ("a.txt", b"hello", "text/plain")}, "data": {"x": "1"}},
    "files-bare": lambda: {"files": {"upload": b"\x01\x02"}},
    "nothing": lambda: {},
}


@pytest.mark.parametrize("case", list(BODY_CASES))
async def test_body_and_content_type_match_requests(call, server, case):
    await call(creds(server), "/body", "POST", **BODY_CASES[case]())
    seen = server.attempts[-1]
    body, content_type, _ = _requests_wire("POST", f"{server.url}/body", **BODY_CASES[case]())
    got_type = seen.headers.get("Content-Type")
    if case.startswith("files"):
        # The multipart boundary is random: compare with it normalized.
        got, want = _boundary(got_type), _boundary(content_type)
        assert got and want
        body, content_type = body.replace(want.encode(), b"B"), content_type.replace(want, "B")
        seen_body, got_type = seen.body.replace(got.encode(), b"B"), got_type.replace(got, "B")
    else:
        seen_body = seen.body
    assert seen_body == body
    assert got_type == content_type
    assert len(seen.headers.getall("Content-Type", [])) <= 1


async def test_caller_content_type_wins_over_the_json_default(call, server):
    await call(
        creds(server), "/ct", "POST", json={"a": 1},
        extra_headers={"content-type": "application/vnd.custom+json"},
    )
    seen = server.attempts[-1]
    assert seen.headers.getall("Content-Type") == ["application/vnd.custom+json"]
    assert seen.json() == {"a": 1}


@pytest.mark.parametrize(
    "params",
    [
        {"q": "a b", "n": 3},
        {"multi": ["1", "2"], "empty": "", "none": None},
        [("x", "1"), ("x", "2")],
        "raw=1&b=%20",
        {"unicode": "ü/é?&"},
    ],
)
async def test_params_are_encoded_as_requests_does(call, server, params):
    await call(creds(server), "/p?already=1", "GET", params=params)
    _, _, path = _requests_wire("GET", f"{server.url}/p?already=1", params=params)
    seen = server.attempts[-1]
    want_path, _, want_query = path.partition("?")
    assert seen.path == want_path
    # Compared decoded: yarl may leave "/" and "?" unescaped in a query value, which is the same
    # value to any server.
    assert list(seen.query.items()) == parse_qsl(want_query, keep_blank_values=True)


async def test_unknown_keyword_arguments_are_rejected(call, server):
    with pytest.raises(TypeError, match="bogus"):
        await call(creds(server), "/x", "GET", bogus=1)
    assert server.attempts == []


# --- responses -------------------------------------------------------------------------------
async def test_response_surface(call, server):
    server.script(
        Reply(404, headers={"X-Id": "7"}, json={"error_code": "RESOURCE_DOES_NOT_EXIST",
                                               "message": "nope"})
    )
    response = await call(creds(server), "/r", "GET")
    assert response.status_code == 404
    assert response.headers["x-id"] == "7"
    assert response.json()["message"] == "nope"
    assert response.content.startswith(b"{")
    assert "nope" in response.text
    assert not response.ok
    with pytest.raises(requests.HTTPError, match="404"):
        response.raise_for_status()


async def test_response_text_uses_the_declared_charset(call, server):
    server.script(Reply(200, headers={"Content-Type": "text/plain; charset=latin-1"},
                        body="café".encode("latin-1")))
    response = await call(creds(server), "/r", "GET")
    assert response.encoding.lower() in ("latin-1", "iso-8859-1")
    assert response.text == "café"


# --- redirects -------------------------------------------------------------------------------
def _redirecting(request: web.BaseRequest, attempt):
    if request.path == "/from":
        return Reply(302, headers={"Location": "/to"})
    return Reply(200, json={"landed": request.path})


async def test_redirects_are_followed_by_default(call, server):
    server.respond_with(_redirecting)
    response = await call(creds(server), "/from", "GET")
    assert response.status_code == 200 and response.json() == {"landed": "/to"}
    assert server.paths() == ["/from", "/to"]


async def test_allow_redirects_false(call, server):
    server.respond_with(_redirecting)
    response = await call(creds(server), "/from", "GET", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/to"
    assert server.paths() == ["/from"]


async def test_mlflow_allow_http_redirects_env(call, server, monkeypatch):
    server.respond_with(_redirecting)
    monkeypatch.setenv("MLFLOW_ALLOW_HTTP_REDIRECTS", "false")
    response = await call(creds(server), "/from", "GET")
    assert response.status_code == 302 and server.paths() == ["/from"]
    # An explicit argument beats the environment.
    response = await call(creds(server), "/from", "GET", allow_redirects=True)
    assert response.status_code == 200
    monkeypatch.setenv("MLFLOW_ALLOW_HTTP_REDIRECTS", "TRUE")
    response = await call(creds(server), "/from", "GET")
    assert response.status_code == 200


# --- streaming -------------------------------------------------------------------------------
STREAM_PIECES = [b"data: one\n", b"data: t", b"wo\n\n", b"data: three\n", b"tail-without-newline"]
STREAM_BODY = b"".join(STREAM_PIECES)


async def _streaming(request: web.BaseRequest, attempt):
    import asyncio

    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for piece in STREAM_PIECES:
        await response.write(piece)
        await asyncio.sleep(0.01)
    await response.write_eof()
    return response


def _requests_lines(body: bytes) -> list[bytes]:
    reference = requests.Response()
    reference.raw = io.BytesIO(body)
    reference.status_code = 200
    return list(reference.iter_lines())


def test_blocking_stream_iter_lines(server):
    server.respond_with(_streaming)
    response = http_request(creds(server), "/stream", "POST", stream=True, json={"s": 1})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    lines = list(response.iter_lines())
    assert lines == _requests_lines(STREAM_BODY)
    assert lines[:3] == [b"data: one", b"data: two", b""]
    # Fully read: the connection went back to the pool and is reused.
    server.respond_with(None)
    http_request(creds(server), "/after", "GET")
    assert server.attempts[-1].port == server.attempts[0].port


def test_blocking_stream_content_and_iter_content(server):
    server.respond_with(_streaming)
    response = http_request(creds(server), "/stream", "GET", stream=True)
    assert response.content == STREAM_BODY
    response = http_request(creds(server), "/stream", "GET", stream=True)
    assert b"".join(response.iter_content(chunk_size=3)) == STREAM_BODY


async def test_async_stream_aiter_lines(server):
    server.respond_with(_streaming)
    response = await ahttp_request(creds(server), "/stream", "POST", stream=True, json={"s": 1})
    assert isinstance(response, AsyncStreamResponse) and isinstance(response, requests.Response)
    assert response.status_code == 200
    lines = [line async for line in response.aiter_lines()]
    assert lines == _requests_lines(STREAM_BODY)
    server.respond_with(None)
    await ahttp_request(creds(server), "/after", "GET")
    assert server.attempts[-1].port == server.attempts[0].port


async def test_async_stream_aread_and_early_close(server):
    server.respond_with(_streaming)
    response = await ahttp_request(creds(server), "/stream", "GET", stream=True)
    assert await response.aread() == STREAM_BODY
    assert response.content == STREAM_BODY
    async with await ahttp_request(creds(server), "/stream", "GET", stream=True) as early:
        async for line in early.aiter_lines():
            assert line == b"data: one"
            break
    # Abandoned midway: the connection is dropped, and the next call still works.
    server.respond_with(None)
    assert (await ahttp_request(creds(server), "/after", "GET")).status_code == 200


async def test_non_stream_response_is_fully_read(call, server):
    server.respond_with(_streaming)
    response = await call(creds(server), "/stream", "GET")
    assert response.content == STREAM_BODY
    assert list(response.iter_lines()) == _requests_lines(STREAM_BODY)


async def test_post_redirected_by_302_becomes_a_get_like_requests(call, server):
    server.respond_with(_redirecting)
    response = await call(creds(server), "/from", "POST", json={"big": "payload"})
    assert response.status_code == 200
    methods = [(a.path, a.method, a.body) for a in server.attempts]
    assert methods == [("/from", "POST", b'{"big": "payload"}'), ("/to", "GET", b"")]


async def test_cross_origin_redirect_drops_the_authorization_header(call, server, make_server):
    other = make_server()
    server.script(Reply(302, headers={"Location": f"{other.url}/elsewhere"}))
    response = await call(creds(server, token="tok-secret"), "/from", "GET")
    assert response.status_code == 200
    assert server.attempts[0].headers["Authorization"] == "Bearer tok-secret"
    assert other.paths() == ["/elsewhere"]
    assert "Authorization" not in other.attempts[0].headers  # as requests' should_strip_auth


async def test_large_body_arrives_intact(call, server):
    payload = {"rows": ["x" * 1000] * 5000}
    await call(creds(server), "/big", "POST", json=payload)
    assert server.attempts[-1].json() == payload
