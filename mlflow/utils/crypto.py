"""Envelope encryption of gateway secrets at rest.

- The key-encryption key (KEK) is derived from ``MLFLOW_CRYPTO_KEK_PASSPHRASE`` with
  PBKDF2-HMAC-SHA256 (600,000 iterations by default; the count and a random salt are stored with
  the database, so the same passphrase always gives the same KEK for that database).
- Each secret gets its own random 256-bit data key (DEK). The secret's JSON value is sealed with
  AES-256-GCM under the DEK, with the secret's id and name as associated data (a ciphertext moved
  to another row does not decrypt). The DEK is sealed with AES-256-GCM under the KEK.
- Rotating the KEK re-seals only the DEKs; values stay as they are.

The passphrase is read from the environment (or a hidden prompt for rotation), never from a
command-line argument, and neither it nor any key or value appears in a repr, a log line or an
error message. A failed authentication tag (tampered data or the wrong key) is an
``MlflowException``, never garbage plaintext.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlflow.exceptions import INVALID_PARAMETER_VALUE, INVALID_STATE, MlflowException

# Seed 002's names. SECURITY: the passphrase is a server-admin credential: environment or secrets
# manager only, never a command-line argument (visible in ps and shell history).
CRYPTO_KEK_PASSPHRASE_ENV_VAR = "MLFLOW_CRYPTO_KEK_PASSPHRASE"
# Version recorded on secrets wrapped by the current KEK when a database is first set up (default 1)
CRYPTO_KEK_VERSION_ENV_VAR = "MLFLOW_CRYPTO_KEK_VERSION"
SECRETS_CACHE_TTL_ENV_VAR = "MLFLOW_SERVER_SECRETS_CACHE_TTL"  # seconds, 10-300, default 60
SECRETS_CACHE_MAX_SIZE_ENV_VAR = "MLFLOW_SERVER_SECRETS_CACHE_MAX_SIZE"  # default 1000
# Ours: the new passphrase for ``mlflow crypto rotate-kek`` (else it prompts, input hidden).
CRYPTO_NEW_KEK_PASSPHRASE_ENV_VAR = "MLFLOW_CRYPTO_NEW_KEK_PASSPHRASE"

DEFAULT_KEK_VERSION = 1
PBKDF2_ITERATIONS = 600_000  # OWASP 2023 for PBKDF2-HMAC-SHA256
SALT_LENGTH = 16
KEY_LENGTH = 32  # AES-256
NONCE_LENGTH = 12  # 96-bit GCM nonce
SECRETS_CACHE_TTL_DEFAULT = 60
SECRETS_CACHE_TTL_RANGE = (10, 300)
SECRETS_CACHE_MAX_SIZE_DEFAULT = 1000

_KEK_CHECK_PLAINTEXT = b"mlflow-gateway-kek-check"


def _missing_passphrase_error(variable: str) -> MlflowException:
    return MlflowException(
        f"{variable} is not set. It is the passphrase that protects the gateway's stored secrets "
        "(an administrator's setting: use a high-entropy value of 32+ characters from your "
        "secrets manager). Set it in the server's environment; it is never accepted on the "
        "command line.",
        error_code=INVALID_PARAMETER_VALUE,
    )


def read_passphrase(variable: str = CRYPTO_KEK_PASSPHRASE_ENV_VAR) -> str:
    passphrase = os.environ.get(variable)
    if not passphrase:
        raise _missing_passphrase_error(variable)
    return passphrase


def kek_version_from_env() -> int:
    raw = os.environ.get(CRYPTO_KEK_VERSION_ENV_VAR)
    if raw is None or raw == "":
        return DEFAULT_KEK_VERSION
    try:
        version = int(raw)
    except ValueError:
        version = 0
    if version < 1:
        raise MlflowException(
            f"{CRYPTO_KEK_VERSION_ENV_VAR} must be a whole number >= 1, got {raw!r}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return version


def _int_setting(variable: str, default: int, low: int, high: int | None) -> int:
    raw = os.environ.get(variable)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise MlflowException(
            f"{variable} must be a whole number {bound}, got {raw!r}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return value


def secrets_cache_ttl() -> int:
    low, high = SECRETS_CACHE_TTL_RANGE
    return _int_setting(SECRETS_CACHE_TTL_ENV_VAR, SECRETS_CACHE_TTL_DEFAULT, low, high)


def secrets_cache_max_size() -> int:
    return _int_setting(SECRETS_CACHE_MAX_SIZE_ENV_VAR, SECRETS_CACHE_MAX_SIZE_DEFAULT, 1, None)


class KeyEncryptionKey:
    """A derived KEK and its version. The key bytes are never shown."""

    __slots__ = ("_key", "version")

    def __init__(self, key: bytes, version: int) -> None:
        if len(key) != KEY_LENGTH:
            raise ValueError("a KEK is 32 bytes")
        self._key = key
        self.version = version

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(version={self.version})"

    @classmethod
    def derive(
        cls, passphrase: str, *, salt: bytes, iterations: int, version: int
    ) -> KeyEncryptionKey:
        return cls(_derive(passphrase, salt, iterations), version)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        return _seal(self._key, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        return _open(self._key, sealed, aad)

    def check_token(self) -> bytes:
        """A sealed constant stored with the database, to tell a wrong passphrase at start-up."""
        return self.seal(_KEK_CHECK_PLAINTEXT, _check_aad(self.version))

    def matches(self, token: bytes) -> bool:
        try:
            return self.open(token, _check_aad(self.version)) == _KEK_CHECK_PLAINTEXT
        except InvalidCiphertext:
            return False


def _check_aad(version: int) -> bytes:
    return f"kek-check|{version}".encode()


# PBKDF2 at 600,000 iterations costs ~0.3 s: derive once per (passphrase, salt, count) per process.
_DERIVED: collections.OrderedDict[bytes, bytes] = collections.OrderedDict()
_DERIVED_LOCK = threading.Lock()


def _derive(passphrase: str, salt: bytes, iterations: int) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    if iterations < 1:
        raise MlflowException(
            f"PBKDF2 iteration count must be >= 1, got {iterations}", error_code=INVALID_STATE
        )
    memo = hashlib.sha256(
        passphrase.encode() + b"\0" + salt + b"\0" + str(iterations).encode()
    ).digest()
    with _DERIVED_LOCK:
        if memo in _DERIVED:
            _DERIVED.move_to_end(memo)
            return _DERIVED[memo]
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=KEY_LENGTH, salt=salt, iterations=iterations)
    key = kdf.derive(passphrase.encode("utf-8"))
    with _DERIVED_LOCK:
        _DERIVED[memo] = key
        while len(_DERIVED) > 8:
            _DERIVED.popitem(last=False)
    return key


class InvalidCiphertext(MlflowException):
    """AES-GCM refused the data: it was altered, or sealed under another key or context."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_STATE)


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_LENGTH)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(sealed) < NONCE_LENGTH + 16:
        raise InvalidCiphertext("the stored ciphertext is truncated")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_LENGTH], sealed[NONCE_LENGTH:], aad)
    except InvalidTag:
        raise InvalidCiphertext(
            "authentication failed: the stored ciphertext was altered, or it was sealed under "
            "another key"
        ) from None


def secret_aad(secret_id: str, secret_name: str) -> bytes:
    return f"{secret_id}|{secret_name}".encode()


def dek_aad(secret_id: str) -> bytes:
    return f"dek|{secret_id}".encode()


@dataclass(frozen=True)
class EncryptedSecret:
    encrypted_value: bytes = field(repr=False)
    wrapped_dek: bytes = field(repr=False)
    kek_version: int


def encrypt_secret(
    value: dict[str, str], kek: KeyEncryptionKey, *, secret_id: str, secret_name: str
) -> EncryptedSecret:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    dek = AESGCM.generate_key(bit_length=256)
    plaintext = json.dumps(value, sort_keys=True).encode()
    return EncryptedSecret(
        encrypted_value=_seal(dek, plaintext, secret_aad(secret_id, secret_name)),
        wrapped_dek=kek.seal(dek, dek_aad(secret_id)),
        kek_version=kek.version,
    )


def decrypt_secret(
    encrypted_value: bytes,
    wrapped_dek: bytes,
    kek: KeyEncryptionKey,
    *,
    secret_id: str,
    secret_name: str,
) -> dict[str, str]:
    try:
        dek = kek.open(wrapped_dek, dek_aad(secret_id))
    except InvalidCiphertext:
        raise InvalidCiphertext(
            f"Cannot decrypt secret '{secret_name}': its data key does not open with the current "
            f"key-encryption key (version {kek.version}). Either {CRYPTO_KEK_PASSPHRASE_ENV_VAR} "
            "is not the passphrase the secret was stored under, or the stored data was altered."
        ) from None
    try:
        plaintext = _open(dek, encrypted_value, secret_aad(secret_id, secret_name))
    except InvalidCiphertext:
        raise InvalidCiphertext(
            f"Cannot decrypt secret '{secret_name}': its stored ciphertext failed authentication "
            "(altered, or moved from another secret). Store the secret's value again."
        ) from None
    return json.loads(plaintext)


def rewrap_dek(
    wrapped_dek: bytes, old: KeyEncryptionKey, new: KeyEncryptionKey, *, secret_id: str
) -> bytes:
    dek = old.open(wrapped_dek, dek_aad(secret_id))
    return new.seal(dek, dek_aad(secret_id))


def mask_secret_value(value: dict[str, str]) -> dict[str, str]:
    """A hint per key for display: ``sk-...wxyz`` for long values, ``***`` for short ones."""
    masked = {}
    for key, item in value.items():
        text = str(item)
        masked[key] = f"{text[:3]}...{text[-4:]}" if len(text) >= 16 else "***"
    return masked


class SecretsCache:
    """Decrypted secret values for ``ttl`` seconds, at most ``max_size`` entries (least recently
    used goes first). Keyed by the caller (secret id and its version stamp). Holds values in
    memory only; the repr shows counts."""

    def __init__(
        self,
        ttl: float | None = None,
        max_size: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = secrets_cache_ttl() if ttl is None else ttl
        self.max_size = secrets_cache_max_size() if max_size is None else max_size
        self._clock = clock
        self._entries: collections.OrderedDict[Any, tuple[float, Any]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretsCache(entries={len(self._entries)}, ttl={self.ttl}, max={self.max_size})"

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Any) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() >= entry[0]:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
