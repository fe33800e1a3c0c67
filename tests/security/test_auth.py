"""Caller API keys: off by default, env and file sources, 401 JSON, exempt probes, caller id."""

from __future__ import annotations

import hashlib

import pytest

from mlflow.exceptions import MlflowException
from mlflow.gateway.server import auth
from mlflow.gateway.server.options import ServerOptions

from .conftest import CALLER_KEY, fetch, serve

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


async def test_off_by_default():
    async with serve() as s:
        r = await fetch(s, "POST", "/endpoints/chat/invocations", json=CHAT)
    assert r.status == 200


async def test_keys_from_environment(monkeypatch):
    monkeypatch.setenv("GW_KEYS", f"alice:{CALLER_KEY}, bob-key-0000000001")
    async with serve(ServerOptions(api_keys_env="GW_KEYS")) as s:
        path = "/endpoints/echo-caller/invocations"
        bearer = {"Authorization": f"Bearer {CALLER_KEY}"}
        ok = await fetch(s, "POST", path, json=CHAT, headers=bearer)
        unnamed = await fetch(
            s, "POST", path, json=CHAT, headers={"Authorization": "bearer bob-key-0000000001"}
        )
        missing = await fetch(s, "POST", path, json=CHAT)
        wrong = await fetch(
            s, "POST", path, json=CHAT, headers={"Authorization": f"Bearer {CALLER_KEY}x"}
        )
        basic = await fetch(s, "POST", path, json=CHAT, headers={"Authorization": "Basic abc"})
    assert ok.status == 200 and '"caller": "alice"' in ok.text
    assert unnamed.status == 200 and '"caller": "key2"' in unnamed.text
    for reply in (missing, wrong, basic):
        assert reply.status == 401
        assert reply.headers["Content-Type"].startswith("application/json")
        assert reply.headers["WWW-Authenticate"] == 'Bearer realm="mlflow-gateway"'
        assert "detail" in reply.text
        assert CALLER_KEY not in reply.text
    assert "Missing API key" in missing.text
    assert "Invalid API key" in wrong.text


async def test_keys_from_file_with_comments(tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# team keys\n\nbatch-jobs:{CALLER_KEY}\nsecond-key-xyz\n")
    async with serve(ServerOptions(api_keys_file=str(keys))) as s:
        r = await fetch(
            s, "POST", "/endpoints/echo-caller/invocations", json=CHAT,
            headers={"Authorization": f"Bearer {CALLER_KEY}"},
        )
        r2 = await fetch(
            s, "POST", "/endpoints/echo-caller/invocations", json=CHAT,
            headers={"Authorization": "Bearer second-key-xyz"},
        )
        refused = await fetch(
            s, "POST", "/endpoints/echo-caller/invocations", json=CHAT,
            headers={"Authorization": "Bearer # team keys"},
        )
    assert r.status == 200 and '"caller": "batch-jobs"' in r.text
    assert r2.status == 200 and '"caller": "key2"' in r2.text
    assert refused.status == 401


async def test_probes_and_preflights_are_exempt(monkeypatch):
    monkeypatch.setenv("GW_KEYS", CALLER_KEY)
    async with serve(ServerOptions(api_keys_env="GW_KEYS")) as s:
        for path in ("/health", "/health/ready", "/metrics"):
            assert (await fetch(s, "GET", path)).status == 200, path
        pre = await fetch(
            s, "OPTIONS", "/v1/chat/completions",
            headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
        )
        assert pre.status == 204
        assert (await fetch(s, "GET", "/api/2.0/endpoints/")).status == 401


def test_keys_are_stored_hashed_only(monkeypatch):
    monkeypatch.setenv("GW_KEYS", f"alice:{CALLER_KEY}")
    keys = auth.load_caller_keys(ServerOptions(api_keys_env="GW_KEYS"))
    assert keys.entries == (("alice", hashlib.sha256(CALLER_KEY.encode()).digest()),)
    assert CALLER_KEY not in repr(keys) and CALLER_KEY not in str(keys.entries)
    assert keys.identify(CALLER_KEY) == "alice"
    assert keys.identify(CALLER_KEY[:-1]) is None
    assert keys.identify("") is None


def test_identify_compares_against_every_key(monkeypatch):
    calls = []
    real = auth.hmac.compare_digest

    def counting(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    keys = auth.CallerKeys(
        tuple((f"k{i}", hashlib.sha256(f"key-{i}".encode()).digest()) for i in range(5))
    )
    assert keys.identify("key-0") == "k0"  # the first matches ...
    assert len(calls) == 5  # ... and every other digest is still compared


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"env": ""}, "GW_KEYS, which is unset or empty"),
        ({"env": "alice:"}, "names 'alice' but has no key"),
        ({"env": "a:k1,a:k2"}, "Caller name 'a' is given to two keys"),
        ({"file": "missing"}, "Cannot read the caller API keys file"),
        ({"file_text": "# only a comment\n"}, "no key was found"),
    ],
)
def test_bad_key_configuration_is_a_clear_error(setup, message, monkeypatch, tmp_path):
    opts = {}
    if "env" in setup:
        monkeypatch.setenv("GW_KEYS", setup["env"])
        opts["api_keys_env"] = "GW_KEYS"
    if "file" in setup:
        opts["api_keys_file"] = str(tmp_path / setup["file"])
    if "file_text" in setup:
        (tmp_path / "k").write_text(setup["file_text"])
        opts["api_keys_file"] = str(tmp_path / "k")
    with pytest.raises(MlflowException, match=message) as info:
        auth.load_caller_keys(ServerOptions(**opts))
    assert "k1" not in str(info.value) and "k2" not in str(info.value)
