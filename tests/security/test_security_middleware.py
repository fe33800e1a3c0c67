"""The seed's security layer, row by row, against a real server on loopback."""

from __future__ import annotations

import logging

import pytest

from mlflow.exceptions import MlflowException
from mlflow.gateway.server import security
from mlflow.gateway.server.options import ServerOptions

from .conftest import fetch, serve

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def test_default_allowed_hosts_are_mlflows():
    hosts = security.default_allowed_hosts()
    assert hosts[:4] == ["localhost", "127.0.0.1", "[::1]", "0.0.0.0"]
    assert hosts[4:8] == ["localhost:*", "127.0.0.1:*", "[[]::1]:*", "0.0.0.0:*"]
    assert hosts[8:10] == ["192.168.*", "10.*"]
    assert hosts[10:26] == [f"172.{i}.*" for i in range(16, 32)]
    assert hosts[26:] == ["fc00:*", "fd00:*"]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:8080", True),
        ("[::1]:5000", True),
        ("0.0.0.0:5000", True),
        ("10.1.2.3:5000", True),
        ("192.168.0.7", True),
        ("172.16.0.1:443", True),
        ("172.31.255.1", True),
        ("172.32.0.1", False),
        ("172.15.0.1", False),
        ("evil.com", False),
        ("evil.com:5000", False),
        ("localhost.evil.com", False),
        ("8.8.8.8", False),
    ],
)
async def test_default_host_validation(host, allowed):
    async with serve() as s:
        r = await fetch(s, "GET", "/api/2.0/endpoints/", headers={"Host": host})
    if allowed:
        assert r.status == 200
    else:
        assert r.status == 403
        assert r.text == security.INVALID_HOST_MSG
        assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_missing_host_is_refused():
    async with serve() as s:
        r = await fetch(s, "GET", "/api/2.0/endpoints/", headers={"Host": ""})
    assert r.status == 403
    assert r.text == security.INVALID_HOST_MSG


async def test_health_paths_are_exempt_from_host_validation():
    async with serve() as s:
        for path in ("/health", "/health/ready"):
            async with s.session.get(s.url + path, headers={"Host": "evil.com"}) as r:
                assert r.status == 200, path
        async with s.session.get(s.url + "/health/x", headers={"Host": "evil.com"}) as r:
            assert r.status == 403


async def test_configured_hosts_with_wildcards():
    opts = ServerOptions(allowed_hosts=("gw.company.com", "app-*.internal.com", "192.168.*"))
    async with serve(opts) as s:
        cases = {
            "gw.company.com": 200,
            "GW.Company.com": 200,  # host names are case-insensitive
            "gw.company.com:5000": 403,  # no wildcard: exact match only
            "app-7.internal.com": 200,
            "app-.internal.com": 200,
            "api.internal.com": 403,
            "192.168.1.10:5000": 200,
            "localhost:5000": 403,  # configuring hosts replaces the defaults
        }
        for host, status in cases.items():
            async with s.session.get(s.url + "/api/2.0/endpoints/", headers={"Host": host}) as r:
                assert r.status == status, host


async def test_star_allows_every_host():
    async with serve(ServerOptions(allowed_hosts=("*",))) as s:
        r = await fetch(s, "GET", "/", headers={"Host": "anything.example"})
    assert r.status == 200


async def test_hosts_from_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_SERVER_ALLOWED_HOSTS", "gw.example.com, other.example.com")
    async with serve() as s:
        async with s.session.get(s.url + "/", headers={"Host": "other.example.com"}) as r:
            assert r.status == 200
        async with s.session.get(s.url + "/", headers={"Host": "localhost:1"}) as r:
            assert r.status == 403


@pytest.mark.parametrize(
    "path",
    [
        "/endpoints/chat/invocations",
        "/gateway/chat/invocations",
        "/v1/chat/completions",
        "/api/2.0/endpoints/",
        "//v1/chat/completions",
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_cross_origin_writes_are_blocked_on_api_and_cost_routes(path, method):
    async with serve() as s, s.session.request(
        method, s.url + path, json=CHAT, headers={"Origin": "https://evil.example"}
    ) as r:
        assert r.status == 403
        assert await r.text() == security.CORS_BLOCKED_MSG
        assert "Access-Control-Allow-Origin" not in r.headers


async def test_blocked_cross_origin_request_never_reaches_the_route():
    async with serve() as s:
        async with s.session.post(
            s.url + "/endpoints/chat/invocations", json=CHAT, headers={"Origin": "null"}
        ) as r:
            assert r.status == 403
        text = (await (await s.session.get(s.url + "/metrics")).text())
        assert 'endpoint="chat"' not in text


async def test_same_origin_and_localhost_and_originless_writes_pass():
    async with serve() as s:
        for headers in ({}, {"Origin": "http://localhost:3000"}, {"Origin": "http://127.0.0.1"}):
            async with s.session.post(
                s.url + "/endpoints/chat/invocations", json=CHAT, headers=headers
            ) as r:
                assert r.status == 200, headers


async def test_reads_and_non_api_paths_are_not_blocked():
    async with serve() as s:
        async with s.session.get(
            s.url + "/api/2.0/endpoints/", headers={"Origin": "https://evil.example"}
        ) as r:
            assert r.status == 200
            # ... but the page cannot read it: no CORS grant for that origin.
            assert "Access-Control-Allow-Origin" not in r.headers
        async with s.session.post(
            s.url + "/ui/form", headers={"Origin": "https://evil.example"}
        ) as r:
            assert r.status == 200  # the seed blocks on API paths only


async def test_allowed_origin_passes_with_credentialed_cors_headers():
    opts = ServerOptions(cors_allowed_origins=("https://app.company.com", "https://*.corp.io"))
    async with serve(opts) as s:
        for origin in ("https://app.company.com", "https://nb.corp.io"):
            async with s.session.post(
                s.url + "/endpoints/chat/invocations", json=CHAT, headers={"Origin": origin}
            ) as r:
                assert r.status == 200
                assert r.headers["Access-Control-Allow-Origin"] == origin
                assert r.headers["Access-Control-Allow-Credentials"] == "true"
                assert "Origin" in r.headers.getall("Vary")
        async with s.session.post(
            s.url + "/v1/chat/completions",
            json=CHAT,
            headers={"Origin": "https://app.company.com.evil.io"},
        ) as r:
            assert r.status == 403


async def test_origins_from_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_SERVER_CORS_ALLOWED_ORIGINS", "https://a.example")
    async with serve() as s:
        ok = await s.session.post(
            s.url + "/gateway/x/invocations", json=CHAT, headers={"Origin": "https://a.example"}
        )
        bad = await s.session.post(
            s.url + "/gateway/x/invocations", json=CHAT, headers={"Origin": "https://b.example"}
        )
        assert (ok.status, bad.status) == (200, 403)


async def test_star_origin_is_permissive_with_credentials(caplog):
    caplog.set_level(logging.INFO, logger="mlflow.gateway.server.security")
    async with serve(ServerOptions(cors_allowed_origins=("*",))) as s, s.session.post(
        s.url + "/endpoints/chat/invocations",
        json=CHAT,
        headers={"Origin": "https://anywhere.example"},
    ) as r:
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == "https://anywhere.example"
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert any("'*'" in rec.getMessage() for rec in caplog.records)


async def test_api_preflight_answers_204():
    async with serve(ServerOptions(cors_allowed_origins=("https://app.company.com",))) as s:
        async with s.session.options(
            s.url + "/v1/chat/completions",
            headers={
                "Origin": "https://app.company.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        ) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "https://app.company.com"
            assert "POST" in r.headers["Access-Control-Allow-Methods"]
            assert r.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
        async with s.session.options(
            s.url + "/v1/chat/completions",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        ) as r:
            assert r.status == 403
            assert "Access-Control-Allow-Origin" not in r.headers


async def test_api_options_answered_200_by_a_route_becomes_204():
    async with serve() as s, s.session.options(s.url + "/api/2.0/endpoints/") as r:
        assert r.status == 204
        assert await r.read() == b""


@pytest.mark.parametrize(
    ("value", "expected"),
    [("SAMEORIGIN", "SAMEORIGIN"), ("DENY", "DENY"), ("deny", "DENY"), ("NONE", None)],
)
async def test_x_frame_options_variants(value, expected):
    async with serve(ServerOptions(x_frame_options=value)) as s:
        r = await fetch(s, "GET", "/api/2.0/endpoints/")
    assert r.headers.get("X-Frame-Options") == expected
    assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_x_frame_options_from_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_SERVER_X_FRAME_OPTIONS", "DENY")
    async with serve() as s, s.session.get(s.url + "/health") as r:
        assert r.headers["X-Frame-Options"] == "DENY"


def test_invalid_x_frame_options_is_refused():
    with pytest.raises(MlflowException, match="ALLOWALL.*SAMEORIGIN, DENY, NONE"):
        security.resolve_settings(ServerOptions(x_frame_options="ALLOWALL"))


async def test_security_headers_on_every_response():
    async with serve() as s:
        checks = [
            ("GET", "/api/2.0/endpoints/", 200),
            ("GET", "/no/such/path", 404),
            ("GET", "/boom", 500),
            ("POST", "/v1/chat/completions", 200),  # a stream
            ("GET", "/health", 200),
            ("GET", "/metrics", 200),
        ]
        for method, path, status in checks:
            async with s.session.request(method, s.url + path, json=CHAT) as r:
                await r.read()
                assert r.status == status, path
                assert r.headers["X-Content-Type-Options"] == "nosniff", path
                assert r.headers["X-Frame-Options"] == "SAMEORIGIN", path


@pytest.mark.parametrize("how", ["option", "env"])
async def test_disabled(how, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="mlflow.gateway.server.security")
    if how == "env":
        monkeypatch.setenv("MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", "true")
        opts = ServerOptions()
    else:
        opts = ServerOptions(disable_security_middleware=True)
    async with serve(opts) as s, s.session.post(
        s.url + "/endpoints/chat/invocations",
        json=CHAT,
        headers={"Host": "evil.com", "Origin": "https://evil.example"},
    ) as r:
        assert r.status == 200
        assert "X-Content-Type-Options" not in r.headers
        assert "X-Frame-Options" not in r.headers
    messages = [rec.getMessage() for rec in caplog.records]
    assert (
        "[MLflow] WARNING: Security middleware is DISABLED. "
        "Your MLflow server is vulnerable to various attacks." in messages
    )


async def test_startup_messages(caplog):
    caplog.set_level(logging.INFO, logger="mlflow.gateway.server.security")
    async with serve():
        pass
    async with serve(
        ServerOptions(
            allowed_hosts=("mlflow.company.com", "192.168.*"),
            cors_allowed_origins=("https://app.company.com",),
        )
    ):
        pass
    async with serve(ServerOptions(allowed_hosts=("a", "b", "c", "d", "e"))):
        pass
    messages = [rec.getMessage() for rec in caplog.records]
    assert (
        "[MLflow] Security middleware enabled with default settings (localhost-only). "
        "To allow connections from other hosts, use --host 0.0.0.0 and configure "
        "--allowed-hosts and --cors-allowed-origins." in messages
    )
    assert (
        "[MLflow] Security middleware enabled. Allowed hosts: mlflow.company.com, 192.168.*. "
        "CORS origins: https://app.company.com." in messages
    )
    assert "[MLflow] Security middleware enabled. Allowed hosts: a, b, c, and 2 more." in messages


async def test_rejected_host_is_logged_escaped(caplog):
    caplog.set_level(logging.WARNING, logger="mlflow.gateway.server.security")
    async with serve() as s:
        await s.session.get(s.url + "/api/2.0/endpoints/", headers={"Host": "evil.com"})
    assert any(
        "Rejected request with invalid Host header: 'evil.com'" in rec.getMessage()
        for rec in caplog.records
    )


def test_decision_memo_is_bounded():
    calls = []
    memo = security._Decisions(lambda value: calls.append(value) or value.startswith("ok"))
    assert memo("ok.example") and memo("ok.example") and len(calls) == 1
    for n in range(3000):  # attacker-chosen Host values
        assert not memo(f"evil-{n}.example")
    assert len(memo._memo) <= security._Decisions._LIMIT
