"""The store's core: engine and sessions, database-wide settings (KDF salt, KEK version and
check token, the config version every write bumps), the current KEK, shared helpers."""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Text, cast, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mlflow.exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    MlflowException,
)
from mlflow.store.gateway import db
from mlflow.store.gateway.models import (
    SqlMeta,
)
from mlflow.utils import crypto

META_SALT = "kdf_salt"
META_ITERATIONS = "kdf_iterations"
META_KEK_VERSION = "kek_version"
META_KEK_CHECK = "kek_check"
META_CONFIG_VERSION = "config_version"


def _not_found(kind: str, key: str) -> MlflowException:
    return MlflowException(f"{kind} '{key}' does not exist", error_code=RESOURCE_DOES_NOT_EXIST)


def _exists(kind: str, name: str) -> MlflowException:
    return MlflowException(
        f"{kind} with name '{name}' already exists; choose another name or update the existing one",
        error_code=RESOURCE_ALREADY_EXISTS,
    )


async def _row_by_id_or_name(
    session: AsyncSession,
    model: type,
    by_name: Callable[[AsyncSession, str], Any],
    kind: str,
    key_id: str | None,
    name: str | None,
    missing: str,
) -> Any:
    """The row with this id, else with this name; a clear error when neither is given or found.
    ``missing`` names the two parameters, e.g. "endpoint_id or name"."""
    if key_id:
        row = await session.get(model, key_id)
        key = key_id
    elif name:
        row = await by_name(session, name)
        key = name
    else:
        raise MlflowException(
            f"Either {missing} must be provided", error_code=INVALID_PARAMETER_VALUE
        )
    if row is None:
        raise _not_found(kind, key)
    return row


_ID_COUNTER = itertools.count()


def _new_id(prefix: str) -> str:
    """Unique, and ordered by creation within a process (mappings list in the order given)."""
    return f"{prefix}-{time.time_ns():016x}{next(_ID_COUNTER) % 65536:04x}{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class ResolvedModel:
    """One served model of an endpoint, with its decrypted credentials (server side only)."""

    mapping_id: str
    model_definition_id: str
    provider: str
    model_name: str
    weight: float
    secret_value: dict[str, str] = field(repr=False)
    auth_config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedEndpoint:
    endpoint_id: str
    name: str
    models: list[ResolvedModel]
    limit: dict[str, Any] | None = None  # from the endpoint's LIMIT_TAG


class StoreCore:
    """Open with ``await GatewayStore.open(uri)``; close with ``await store.aclose()``.

    ``passphrase`` defaults to ``MLFLOW_CRYPTO_KEK_PASSPHRASE`` and is only needed to store or
    read secret values. ``kdf_iterations`` applies when the database is created."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        passphrase: str | None = None,
        kdf_iterations: int = crypto.PBKDF2_ITERATIONS,
        clock: Callable[[], float] = time.time,
        secrets_cache: crypto.SecretsCache | None = None,
    ) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._passphrase = passphrase
        self._kdf_iterations = kdf_iterations
        self._clock = clock
        self._kek: crypto.KeyEncryptionKey | None = None
        self._kek_lock = asyncio.Lock()
        self.secrets_cache = secrets_cache if secrets_cache is not None else crypto.SecretsCache()

    def __repr__(self) -> str:
        return f"GatewayStore(dialect={self.engine.dialect.name})"

    @classmethod
    async def open(cls, uri: str, **kwargs: Any) -> StoreCore:
        engine = db.create_engine(uri)
        try:
            await db.upgrade(engine)
            store = cls(engine, **kwargs)
            await store._init_meta()
        except BaseException:
            await engine.dispose()
            raise
        return store

    async def aclose(self) -> None:
        await self.engine.dispose()

    def _now(self) -> int:
        return int(self._clock() * 1000)

    # ------------------------------------------------------------------ meta and keys

    async def _init_meta(self) -> None:
        defaults = {
            META_SALT: base64.b64encode(os.urandom(crypto.SALT_LENGTH)).decode(),
            META_ITERATIONS: str(self._kdf_iterations),
            META_KEK_VERSION: str(crypto.kek_version_from_env()),
            META_CONFIG_VERSION: "0",
        }
        for key, value in defaults.items():
            try:
                async with self._sessions() as session, session.begin():
                    if await session.get(SqlMeta, key) is None:
                        session.add(SqlMeta(key=key, value=value))
            except IntegrityError:
                pass  # another worker initialised it first: keep theirs

    async def _meta(self, session: AsyncSession) -> dict[str, str]:
        rows = (await session.execute(select(SqlMeta))).scalars()
        return {row.key: row.value for row in rows}

    async def config_version(self) -> int:
        async with self._sessions() as session:
            row = await session.get(SqlMeta, META_CONFIG_VERSION)
            return int(row.value) if row is not None else 0

    @staticmethod
    async def _bump(session: AsyncSession) -> None:
        await session.execute(
            update(SqlMeta)
            .where(SqlMeta.key == META_CONFIG_VERSION)
            .values(value=cast(cast(SqlMeta.value, Integer) + 1, Text))
        )

    async def kek(self) -> crypto.KeyEncryptionKey:
        """The current KEK, checked against the database's check token (wrong passphrase: a
        clear error, before any secret is touched)."""
        if self._kek is not None:
            return self._kek
        async with self._kek_lock:
            if self._kek is not None:
                return self._kek
            passphrase = self._passphrase or crypto.read_passphrase()
            async with self._sessions() as session:
                meta = await self._meta(session)
            kek = await asyncio.to_thread(
                crypto.KeyEncryptionKey.derive,
                passphrase,
                salt=base64.b64decode(meta[META_SALT]),
                iterations=int(meta[META_ITERATIONS]),
                version=int(meta[META_KEK_VERSION]),
            )
            token = meta.get(META_KEK_CHECK)
            if token is None:
                await self._store_check_token(kek)
            elif not kek.matches(base64.b64decode(token)):
                raise wrong_passphrase_error(kek.version)
            self._kek = kek
            return kek

    async def _store_check_token(self, kek: crypto.KeyEncryptionKey) -> None:
        try:
            async with self._sessions() as session, session.begin():
                session.add(
                    SqlMeta(key=META_KEK_CHECK, value=base64.b64encode(kek.check_token()).decode())
                )
        except IntegrityError:
            async with self._sessions() as session:
                row = await session.get(SqlMeta, META_KEK_CHECK)
            if not kek.matches(base64.b64decode(row.value)):
                raise wrong_passphrase_error(kek.version) from None


def wrong_passphrase_error(version: int) -> MlflowException:
    return MlflowException(
        f"{crypto.CRYPTO_KEK_PASSPHRASE_ENV_VAR} does not match the key-encryption key (version "
        f"{version}) that protects this database's secrets. Set it to the passphrase the secrets "
        "were stored under; to change the passphrase, run `mlflow crypto rotate-kek`.",
        error_code=INVALID_PARAMETER_VALUE,
    )
