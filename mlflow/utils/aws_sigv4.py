"""AWS Signature Version 4 for ``MlflowHostCreds(aws_sigv4=True)`` (service ``execute-api``).

Signing is done by aws-requests-auth's ``AWSRequestsAuth``, applied to each attempt (the transport
calls the auth object once per attempt, in a worker thread), so every retry carries a fresh
``X-Amz-Date`` and signature. Credentials and region are resolved when signing, not when the auth
object is made: ``get_sigv4_auth()`` runs on the event loop and must not do I/O.

Credentials: botocore's default chain when botocore is installed (environment variables, shared
credentials/config files, SSO, container and instance metadata; refreshable credentials are
re-read on every signing), else ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN``. Region: ``AWS_REGION``, then ``AWS_DEFAULT_REGION``, then the botocore
profile's ``region``.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import threading
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import requests
from aws_requests_auth.aws_auth import AWSRequestsAuth, getSignatureKey

from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

_SERVICE = "execute-api"
_ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Environment variables that change what botocore's chain finds: a change means a new session.
_CHAIN_ENV = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_EC2_METADATA_DISABLED",
)
_MISSING_CREDENTIALS = (
    "AWS SigV4 signing (MlflowHostCreds(aws_sigv4=True) / MLFLOW_TRACKING_AWS_SIGV4) found no AWS "
    "credentials. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for "
    "temporary credentials){botocore_hint}."
)
_MISSING_REGION = (
    "AWS SigV4 signing (MlflowHostCreds(aws_sigv4=True) / MLFLOW_TRACKING_AWS_SIGV4) needs the AWS "
    "region of the API. Set AWS_REGION or AWS_DEFAULT_REGION{botocore_hint}."
)


class _Credentials(NamedTuple):
    access_key: str
    secret_key: str
    token: str | None

    def __repr__(self) -> str:  # never show the secret parts
        return f"_Credentials(access_key={self.access_key!r}, secret_key='***', token=***)"


def _botocore_session_module():
    try:
        from botocore import session
    except ImportError:
        return None
    return session


class _BotocoreChain:
    """One botocore session per distinct AWS environment, made on first use (it reads files)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fingerprint: bytes | None = None
        self._session: Any = None
        self._credentials: Any = None

    def _current(self):
        # A digest, so the cache does not keep a second copy of secret values.
        raw = "\0".join(os.environ.get(name, "\1") for name in _CHAIN_ENV)
        fingerprint = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).digest()
        with self._lock:
            if fingerprint == self._fingerprint and self._credentials is not None:
                return self._session, self._credentials
            session = _botocore_session_module().Session()
            credentials = session.get_credentials()
            if credentials is not None:  # a miss is not cached: credentials may appear later
                self._fingerprint, self._session, self._credentials = (
                    fingerprint, session, credentials,
                )
            return session, credentials

    def credentials(self) -> _Credentials | None:
        from botocore.exceptions import BotoCoreError

        try:
            _, credentials = self._current()
            if credentials is None:
                return None
            # Frozen: a refresh cannot swap the key between reading access and secret key.
            frozen = credentials.get_frozen_credentials()
        except BotoCoreError as e:
            raise MlflowException(
                _MISSING_CREDENTIALS.format(botocore_hint="")
                + f" botocore could not load credentials: {type(e).__name__}: {e}",
                error_code=INVALID_PARAMETER_VALUE,
            ) from None
        if not frozen.access_key or not frozen.secret_key:
            return None
        return _Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)

    def region(self) -> str | None:
        from botocore.exceptions import BotoCoreError

        try:
            session, _ = self._current()
            return session.get_config_variable("region")
        except BotoCoreError:
            return None


_chain = _BotocoreChain()


def _credentials_from_env() -> _Credentials | None:
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    return _Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


def _resolve_credentials() -> _Credentials:
    has_botocore = _botocore_session_module() is not None
    credentials = _chain.credentials() if has_botocore else _credentials_from_env()
    if credentials is None:
        hint = (
            ", or configure another source of botocore's credential chain (AWS_PROFILE, "
            "~/.aws/credentials, SSO, instance or container role)"
            if has_botocore
            else ", or install botocore to use profiles and roles"
        )
        raise MlflowException(
            _MISSING_CREDENTIALS.format(botocore_hint=hint), error_code=INVALID_PARAMETER_VALUE
        )
    return credentials


def _resolve_region() -> str:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    has_botocore = _botocore_session_module() is not None
    if not region and has_botocore:
        region = _chain.region()
    if not region:
        hint = " (or 'region' in your AWS config profile)" if has_botocore else ""
        raise MlflowException(
            _MISSING_REGION.format(botocore_hint=hint), error_code=INVALID_PARAMETER_VALUE
        )
    return region


def _host_of(url: str) -> str:
    """The Host header value the server sees: lower-case, no user info, no default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _utcnow() -> datetime.datetime:
    """The signing time (a seam for tests: two attempts must differ when the clock moves)."""
    return datetime.datetime.now(datetime.timezone.utc)


def _canonical_path(url: str) -> str:
    """The path without dot segments and repeated slashes (what AWS services canonicalize),
    URI-encoded once."""
    path = urlsplit(url).path
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
        else:
            segments.append(segment)
    normalized = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normalized += "/"
    return quote(normalized, safe="/-_.~")


def _canonical_query(url: str) -> str:
    """Parameters sorted by (already encoded) name, then value, as the SigV4 spec says."""
    query = urlsplit(url).query
    pairs = []
    for item in query.split("&") if query else ():
        name, _, value = item.partition("=")
        if name:
            pairs.append((name, value))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


class _RequestSigner(AWSRequestsAuth):
    """aws-requests-auth for one request, with a spec-conformant canonical request.

    aws-requests-auth sorts the query as joined ``name=value`` strings (wrong when one name is a
    prefix of another: ``a`` vs ``a-b``), keeps repeated slashes and dot segments in the path,
    and reads the clock with ``utcnow()``; any of these makes the server compute a different
    signature. Its structure (headers it signs, the key derivation) is kept.
    """

    @classmethod
    def get_canonical_querystring(cls, r) -> str:
        return _canonical_query(r.url)

    @classmethod
    def get_canonical_path(cls, r) -> str:
        return _canonical_path(r.url)

    def get_aws_request_headers(self, r, aws_access_key, aws_secret_access_key, aws_token):
        amz_date = _utcnow().strftime("%Y%m%dT%H%M%SZ")
        date_stamp = amz_date[:8]
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        payload_hash = hashlib.sha256(body).hexdigest()
        # The payload hash is signed too, as MLflow's signer does (valid for execute-api; AWS
        # requires it for S3 and allows it everywhere).
        to_sign = {"host": self.aws_host, "x-amz-date": amz_date}
        to_sign["x-amz-content-sha256"] = payload_hash
        if aws_token:
            to_sign["x-amz-security-token"] = aws_token
        names = sorted(to_sign)
        signed_headers = ";".join(names)
        canonical_request = "\n".join((
            r.method.upper(),
            self.get_canonical_path(r),
            self.get_canonical_querystring(r),
            "".join(f"{name}:{to_sign[name]}\n" for name in names),
            signed_headers,
            payload_hash,
        ))
        scope = f"{date_stamp}/{self.aws_region}/{self.service}/aws4_request"
        string_to_sign = "\n".join((
            _ALGORITHM,
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ))
        key = getSignatureKey(aws_secret_access_key, date_stamp, self.aws_region, self.service)
        signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        headers = {
            "Authorization": f"{_ALGORITHM} Credential={aws_access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}",
            "x-amz-date": amz_date,
            "x-amz-content-sha256": payload_hash,
        }
        if aws_token:
            headers["X-Amz-Security-Token"] = aws_token
        return headers


class MlflowSigV4Auth(requests.auth.AuthBase):
    """A requests auth that signs each call with SigV4 (aws-requests-auth), resolving
    credentials and region at signing time."""

    __slots__ = ("service", "region")

    def __init__(self, service: str = _SERVICE, region: str | None = None) -> None:
        self.service = service
        self.region = region  # None: resolved from the environment when signing

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        credentials = _resolve_credentials()
        region = self.region or _resolve_region()
        signer = _RequestSigner(
            aws_access_key=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            aws_host=_host_of(r.url),
            aws_region=region,
            aws_service=self.service,
            aws_token=credentials.token,
        )
        return signer(r)

    def __repr__(self) -> str:
        return f"MlflowSigV4Auth(service={self.service!r}, region={self.region!r})"


def get_sigv4_auth(service: str = _SERVICE, region: str | None = None) -> MlflowSigV4Auth:
    """The SigV4 auth for ``http_request``. Cheap and I/O-free: credentials and region are
    resolved (and missing ones reported as ``MlflowException``) when a request is signed."""
    return MlflowSigV4Auth(service, region)
