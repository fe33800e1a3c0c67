"""AWS credentials for Bedrock (the three modes of ``AmazonBedrockConfig.aws_config``) and SigV4
signing of each attempt with the signer the client uses (``mlflow.utils.aws_sigv4``).

- ``AWSIdAndKey``: the configured key, secret and optional session token.
- ``AWSRole``: STS ``AssumeRole`` (https://docs.aws.amazon.com/STS/latest/APIReference/
  API_AssumeRole.html), signed with the default chain's credentials; the temporary credentials
  are cached until a minute before they expire.
- ``AWSBaseConfig``: the default chain (environment, profile, instance or container role).
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from async_core.messages import Request
from mlflow.exceptions import MlflowException
from mlflow.gateway.exceptions import AIGatewayException
from mlflow.utils import aws_sigv4

_REFRESH_MARGIN = 60.0
_STS_VERSION = "2011-06-15"
_STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None
    expires_at: float | None = None  # wall clock

    def __repr__(self) -> str:
        return f"Credentials(access_key={self.access_key[:4]}..., secret_key='***')"


class _SigningView:
    """The request attributes the SigV4 signer reads."""

    __slots__ = ("method", "url", "body", "headers")

    def __init__(self, request: Request) -> None:
        self.method, self.url, self.body = request.method, request.url, request.body or b""
        self.headers = request.headers


def sign(request: Request, credentials: Credentials, region: str, service: str) -> Request:
    """A copy of ``request`` with SigV4 headers for now (fresh on every attempt)."""
    signer = aws_sigv4._RequestSigner(
        aws_access_key=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_host=aws_sigv4._host_of(request.url),
        aws_region=region,
        aws_service=service,
        aws_token=credentials.token,
    )
    extra = signer.get_aws_request_headers(
        _SigningView(request), credentials.access_key, credentials.secret_key, credentials.token
    )
    return request.copy_with_headers({**request.headers, **extra})


def default_chain() -> Credentials:
    try:
        found = aws_sigv4._resolve_credentials()
    except MlflowException as e:
        raise AIGatewayException(status_code=500, detail=e.message) from None
    return Credentials(found.access_key, found.secret_key, found.token)


def default_region() -> str:
    try:
        return aws_sigv4._resolve_region()
    except MlflowException:
        raise AIGatewayException(
            status_code=500,
            detail="Amazon Bedrock needs an AWS region: set 'aws_region' in the endpoint's "
            "aws_config, or AWS_REGION.",
        ) from None


class CredentialSource:
    """Credentials of one ``aws_config``, resolved when a request is signed."""

    def __init__(self, aws_config: Any, provider: Any) -> None:
        self.aws_config = aws_config
        self._provider = provider  # sends the STS request through the same client
        self._assumed: Credentials | None = None
        self._lock = asyncio.Lock()

    @property
    def mode(self) -> str:
        if getattr(self.aws_config, "aws_role_arn", None):
            return "role"
        if getattr(self.aws_config, "aws_access_key_id", None):
            return "keys"
        return "default"

    async def get(self) -> Credentials:
        mode = self.mode
        if mode == "keys":
            cfg = self.aws_config
            return Credentials(cfg.aws_access_key_id, cfg.aws_secret_access_key,
                               cfg.aws_session_token)
        if mode == "default":
            return await asyncio.to_thread(default_chain)  # may read files or metadata
        async with self._lock:
            current = self._assumed
            if current is None or (current.expires_at or 0) - time.time() < _REFRESH_MARGIN:
                self._assumed = current = await self._assume_role()
            return current

    async def _assume_role(self) -> Credentials:
        cfg = self.aws_config
        base = await asyncio.to_thread(default_chain)
        region = self._provider.region
        form = {
            "Action": "AssumeRole",
            "Version": _STS_VERSION,
            "RoleArn": cfg.aws_role_arn,
            "RoleSessionName": f"mlflow-gateway-{int(time.time())}",
            "DurationSeconds": str(cfg.session_length_seconds),
        }
        url = self._provider.sts_url(region)

        async def signed(request: Request) -> Request:
            return sign(request, base, region, "sts")

        request = Request("POST", url, {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Accept": "application/xml"}, urlencode(form).encode(),
            timeout=self._provider.attempt_timeout)
        response = await self._provider._send(request, signed)
        body = response.content or b""
        if response.status >= 400:
            raise self._provider._refused(response, body)
        return _parse_assume_role(body)


def _parse_assume_role(body: bytes) -> Credentials:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise AIGatewayException(
            status_code=502, detail="AWS STS AssumeRole answered with malformed XML."
        ) from None
    found = root.find(f".//{_STS_NS}Credentials")
    if found is None:
        found = root.find(".//Credentials")
    if found is None:
        raise AIGatewayException(
            status_code=502, detail="AWS STS AssumeRole answered without credentials."
        )

    def text(name: str) -> str | None:
        node = found.find(f"{_STS_NS}{name}")
        if node is None:
            node = found.find(name)
        return None if node is None else (node.text or "").strip()

    expiration = text("Expiration")
    expires_at = None
    if expiration:
        try:
            expires_at = datetime.fromisoformat(expiration.replace("Z", "+00:00")).timestamp()
        except ValueError:
            expires_at = None
    key, secret = text("AccessKeyId"), text("SecretAccessKey")
    if not key or not secret:
        raise AIGatewayException(
            status_code=502, detail="AWS STS AssumeRole answered without credentials."
        )
    return Credentials(key, secret, text("SessionToken"), expires_at)
