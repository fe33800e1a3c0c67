"""An independent SigV4 check: recompute a received request's signature with botocore's
``SigV4Auth`` for the same request, signed headers and timestamp."""

from __future__ import annotations

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.auth.helpers import Recorded


def parse_authorization(value: str) -> dict[str, str]:
    algorithm, _, rest = value.partition(" ")
    assert algorithm == "AWS4-HMAC-SHA256", value
    return dict(part.strip().split("=", 1) for part in rest.split(","))


def expected_signature(
    r: Recorded, access_key: str, secret_key: str, token: str | None, region: str,
    service: str = "execute-api",
) -> tuple[str, str]:
    """(botocore's signature, the received signature) for request ``r``."""
    fields = parse_authorization(r.headers["Authorization"])
    signed = fields["SignedHeaders"].split(";")
    timestamp = r.headers["X-Amz-Date"]
    assert fields["Credential"] == (
        f"{access_key}/{timestamp[:8]}/{region}/{service}/aws4_request"
    )
    # Only the headers the client says it signed, exactly as they arrived.
    headers = {name: r.headers[name] for name in signed}
    request = AWSRequest(
        method=r.method, url=f"http://{r.headers['Host']}{r.raw_path}", headers=headers,
        data=r.body,
    )
    request.context["timestamp"] = timestamp
    signer = SigV4Auth(Credentials(access_key, secret_key, token), service, region)
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    return signer.signature(string_to_sign, request), fields["Signature"]
