"""The gateway store: secrets (encrypted at rest), model definitions, endpoints, weighted
mappings, tags and bindings, on SQLAlchemy 2's asyncio API.

Every write is one transaction that also bumps the ``config_version`` counter, so a failure leaves
nothing half-written and serving workers see a change by polling one row. Errors are
``MlflowException`` with RESOURCE_DOES_NOT_EXIST, RESOURCE_ALREADY_EXISTS or
INVALID_PARAMETER_VALUE."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Text, cast, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mlflow.entities import (
    GatewayEndpoint,
    GatewayEndpointBinding,
    GatewayEndpointModelMapping,
    GatewayEndpointTag,
    GatewayModelDefinition,
    GatewayResourceType,
    GatewaySecretInfo,
)
from mlflow.exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    MlflowException,
)
from mlflow.store.gateway import db, validation
from mlflow.store.gateway.models import (
    SqlEndpoint,
    SqlEndpointBinding,
    SqlEndpointModelMapping,
    SqlEndpointTag,
    SqlMeta,
    SqlModelDefinition,
    SqlSecret,
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


class GatewayStore:
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
    async def open(cls, uri: str, **kwargs: Any) -> GatewayStore:
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

    # ------------------------------------------------------------------ secrets

    async def create_secret(
        self,
        secret_name: str,
        secret_value: dict[str, str],
        provider: str | None = None,
        auth_config: dict[str, Any] | None = None,
        created_by: str | None = None,
    ) -> GatewaySecretInfo:
        validation.check_name(secret_name, "secret_name")
        value = validation.check_secret_value(secret_value)
        auth = validation.check_auth_config(auth_config)
        if provider is not None:
            validation.check_provider(provider)
        created_by = validation.check_optional_user(created_by, "created_by")
        kek = await self.kek()
        secret_id = _new_id("s")
        sealed = crypto.encrypt_secret(value, kek, secret_id=secret_id, secret_name=secret_name)
        now = self._now()
        row = SqlSecret(
            secret_id=secret_id,
            secret_name=secret_name,
            provider=provider,
            auth_config=json.dumps(auth),
            masked_values=json.dumps(crypto.mask_secret_value(value)),
            encrypted_value=sealed.encrypted_value,
            wrapped_dek=sealed.wrapped_dek,
            kek_version=sealed.kek_version,
            created_at=now,
            last_updated_at=now,
            created_by=created_by,
            last_updated_by=created_by,
        )
        async with self._sessions() as session:
            try:
                async with session.begin():
                    if await self._secret_by_name(session, secret_name) is not None:
                        raise _exists("Secret", secret_name)
                    session.add(row)
                    await self._bump(session)
            except IntegrityError:
                raise _exists("Secret", secret_name) from None
        return self._secret_info(row)

    @staticmethod
    async def _secret_by_name(session: AsyncSession, name: str) -> SqlSecret | None:
        return (
            await session.execute(select(SqlSecret).where(SqlSecret.secret_name == name))
        ).scalar_one_or_none()

    @staticmethod
    def _secret_info(row: SqlSecret) -> GatewaySecretInfo:
        return GatewaySecretInfo(
            secret_id=row.secret_id,
            secret_name=row.secret_name,
            masked_values=json.loads(row.masked_values),
            created_at=row.created_at,
            last_updated_at=row.last_updated_at,
            provider=row.provider,
            auth_config=json.loads(row.auth_config),
            created_by=row.created_by,
            last_updated_by=row.last_updated_by,
        )

    async def _get_secret_row(
        self, session: AsyncSession, secret_id: str | None, secret_name: str | None = None
    ) -> SqlSecret:
        if secret_id:
            row = await session.get(SqlSecret, secret_id)
            if row is None:
                raise _not_found("Secret", secret_id)
            return row
        if secret_name:
            row = await self._secret_by_name(session, secret_name)
            if row is None:
                raise _not_found("Secret", secret_name)
            return row
        raise MlflowException(
            "Either secret_id or secret_name must be provided", error_code=INVALID_PARAMETER_VALUE
        )

    async def get_secret_info(
        self, secret_id: str | None = None, secret_name: str | None = None
    ) -> GatewaySecretInfo:
        async with self._sessions() as session:
            return self._secret_info(await self._get_secret_row(session, secret_id, secret_name))

    async def list_secret_infos(self, provider: str | None = None) -> list[GatewaySecretInfo]:
        query = select(SqlSecret).order_by(SqlSecret.created_at, SqlSecret.secret_id)
        if provider:
            query = query.where(SqlSecret.provider == provider)
        async with self._sessions() as session:
            return [self._secret_info(row) for row in (await session.execute(query)).scalars()]

    async def update_secret(
        self,
        secret_id: str,
        secret_value: dict[str, str] | None = None,
        auth_config: dict[str, Any] | None = None,
        updated_by: str | None = None,
    ) -> GatewaySecretInfo:
        value = validation.check_secret_value(secret_value) if secret_value else None
        auth = validation.check_auth_config(auth_config) if auth_config is not None else None
        updated_by = validation.check_optional_user(updated_by, "updated_by")
        kek = await self.kek() if value is not None else None
        async with self._sessions() as session, session.begin():
            row = await self._get_secret_row(session, secret_id)
            if value is not None:
                sealed = crypto.encrypt_secret(
                    value, kek, secret_id=row.secret_id, secret_name=row.secret_name
                )
                row.encrypted_value = sealed.encrypted_value
                row.wrapped_dek = sealed.wrapped_dek
                row.kek_version = sealed.kek_version
                row.masked_values = json.dumps(crypto.mask_secret_value(value))
            if auth is not None:
                row.auth_config = json.dumps(auth)
            row.last_updated_at = max(self._now(), row.last_updated_at + 1)
            row.last_updated_by = updated_by
            await self._bump(session)
        return self._secret_info(row)

    async def delete_secret(self, secret_id: str) -> None:
        async with self._sessions() as session, session.begin():
            row = await self._get_secret_row(session, secret_id)
            # Model definitions that used it become orphaned (secret_id None), as the seed says.
            await session.execute(
                update(SqlModelDefinition)
                .where(SqlModelDefinition.secret_id == secret_id)
                .values(secret_id=None)
            )
            await session.delete(row)
            await self._bump(session)

    async def get_secret_value(self, secret_id: str) -> tuple[dict[str, str], dict[str, Any]]:
        """(decrypted value, auth_config): for building providers, never for a response."""
        async with self._sessions() as session:
            row = await self._get_secret_row(session, secret_id)
        return await self._decrypt(row), json.loads(row.auth_config)

    async def _decrypt(self, row: SqlSecret) -> dict[str, str]:
        cache_key = (row.secret_id, row.last_updated_at, row.kek_version)
        cached = self.secrets_cache.get(cache_key)
        if cached is not None:
            return cached
        kek = await self.kek()
        value = crypto.decrypt_secret(
            row.encrypted_value,
            row.wrapped_dek,
            kek,
            secret_id=row.secret_id,
            secret_name=row.secret_name,
        )
        self.secrets_cache.put(cache_key, value)
        return value

    # ------------------------------------------------------------------ model definitions

    async def create_model_definition(
        self,
        name: str,
        secret_id: str | None,
        provider: str,
        model_name: str,
        created_by: str | None = None,
    ) -> GatewayModelDefinition:
        validation.check_name(name, "name")
        validation.check_provider(provider)
        validation.check_name(model_name, "model_name")
        created_by = validation.check_optional_user(created_by, "created_by")
        now = self._now()
        row = SqlModelDefinition(
            model_definition_id=_new_id("d"),
            name=name,
            secret_id=secret_id or None,
            provider=provider,
            model_name=model_name,
            created_at=now,
            last_updated_at=now,
            created_by=created_by,
            last_updated_by=created_by,
        )
        async with self._sessions() as session:
            try:
                async with session.begin():
                    if secret_id:
                        await self._get_secret_row(session, secret_id)
                    if await self._model_definition_by_name(session, name) is not None:
                        raise _exists("Model definition", name)
                    session.add(row)
                    await self._bump(session)
            except IntegrityError:
                raise _exists("Model definition", name) from None
            return await self.get_model_definition(row.model_definition_id)

    @staticmethod
    async def _model_definition_by_name(session: AsyncSession, name: str):
        query = select(SqlModelDefinition).where(SqlModelDefinition.name == name)
        return (await session.execute(query)).scalar_one_or_none()

    @staticmethod
    def _model_definition_query():
        return select(SqlModelDefinition, SqlSecret.secret_name).outerjoin(
            SqlSecret, SqlSecret.secret_id == SqlModelDefinition.secret_id
        )

    @staticmethod
    def _model_definition(row: SqlModelDefinition, secret_name: str | None):
        return GatewayModelDefinition(
            model_definition_id=row.model_definition_id,
            name=row.name,
            secret_id=row.secret_id,
            secret_name=secret_name if row.secret_id is not None else None,
            provider=row.provider,
            model_name=row.model_name,
            created_at=row.created_at,
            last_updated_at=row.last_updated_at,
            created_by=row.created_by,
            last_updated_by=row.last_updated_by,
        )

    async def get_model_definition(self, model_definition_id: str) -> GatewayModelDefinition:
        query = self._model_definition_query().where(
            SqlModelDefinition.model_definition_id == model_definition_id
        )
        async with self._sessions() as session:
            found = (await session.execute(query)).first()
        if found is None:
            raise _not_found("Model definition", model_definition_id)
        return self._model_definition(*found)

    async def list_model_definitions(
        self, provider: str | None = None, secret_id: str | None = None
    ) -> list[GatewayModelDefinition]:
        query = self._model_definition_query().order_by(
            SqlModelDefinition.created_at, SqlModelDefinition.model_definition_id
        )
        if provider:
            query = query.where(SqlModelDefinition.provider == provider)
        if secret_id:
            query = query.where(SqlModelDefinition.secret_id == secret_id)
        async with self._sessions() as session:
            return [self._model_definition(*found) for found in await session.execute(query)]

    async def update_model_definition(
        self,
        model_definition_id: str,
        name: str | None = None,
        secret_id: str | None = None,
        model_name: str | None = None,
        provider: str | None = None,
        updated_by: str | None = None,
    ) -> GatewayModelDefinition:
        if name is not None:
            validation.check_name(name, "name")
        if model_name is not None:
            validation.check_name(model_name, "model_name")
        if provider is not None:
            validation.check_provider(provider)
        updated_by = validation.check_optional_user(updated_by, "updated_by")
        async with self._sessions() as session:
            try:
                async with session.begin():
                    row = await session.get(SqlModelDefinition, model_definition_id)
                    if row is None:
                        raise _not_found("Model definition", model_definition_id)
                    if name is not None and name != row.name:
                        if await self._model_definition_by_name(session, name) is not None:
                            raise _exists("Model definition", name)
                        row.name = name
                    if secret_id:
                        await self._get_secret_row(session, secret_id)
                        row.secret_id = secret_id
                    if model_name is not None:
                        row.model_name = model_name
                    if provider is not None:
                        row.provider = provider
                    row.last_updated_at = max(self._now(), row.last_updated_at + 1)
                    row.last_updated_by = updated_by
                    await self._bump(session)
            except IntegrityError:
                raise _exists("Model definition", name) from None
        return await self.get_model_definition(model_definition_id)

    async def delete_model_definition(self, model_definition_id: str) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(SqlModelDefinition, model_definition_id)
            if row is None:
                raise _not_found("Model definition", model_definition_id)
            used_by = (
                await session.execute(
                    select(SqlEndpoint.name, SqlEndpoint.endpoint_id)
                    .join(
                        SqlEndpointModelMapping,
                        SqlEndpointModelMapping.endpoint_id == SqlEndpoint.endpoint_id,
                    )
                    .where(SqlEndpointModelMapping.model_definition_id == model_definition_id)
                )
            ).all()
            if used_by:
                names = ", ".join(repr(name or endpoint_id) for name, endpoint_id in used_by)
                raise MlflowException(
                    f"Model definition '{model_definition_id}' is used by endpoint(s) {names}; "
                    "detach it from them first",
                    error_code=INVALID_PARAMETER_VALUE,
                )
            await session.delete(row)
            await self._bump(session)

    # ------------------------------------------------------------------ endpoints

    async def create_endpoint(
        self,
        name: str | None,
        model_configs: list[dict[str, Any]] | None = None,
        created_by: str | None = None,
        tags: list[dict[str, Any]] | None = None,
    ) -> GatewayEndpoint:
        if name is not None:
            validation.check_endpoint_name(name)
        configs = validation.check_model_configs(model_configs)
        checked_tags = [validation.check_tag(t.get("key"), t.get("value")) for t in tags or []]
        created_by = validation.check_optional_user(created_by, "created_by")
        now = self._now()
        endpoint_id = _new_id("e")
        async with self._sessions() as session:
            try:
                async with session.begin():
                    if name is not None and await self._endpoint_by_name(session, name):
                        raise _exists("Endpoint", name)
                    session.add(
                        SqlEndpoint(
                            endpoint_id=endpoint_id,
                            name=name,
                            created_at=now,
                            last_updated_at=now,
                            created_by=created_by,
                            last_updated_by=created_by,
                        )
                    )
                    await session.flush()
                    await self._add_mappings(session, endpoint_id, configs, created_by, now)
                    for key, value in checked_tags:
                        await session.merge(
                            SqlEndpointTag(endpoint_id=endpoint_id, key=key, value=value)
                        )
                    await self._bump(session)
            except IntegrityError:
                raise _exists("Endpoint", name) from None
        return await self.get_endpoint(endpoint_id)

    async def _add_mappings(
        self,
        session: AsyncSession,
        endpoint_id: str,
        configs: list[tuple[str, float]],
        created_by: str | None,
        now: int,
    ) -> list[str]:
        mapping_ids = []
        for model_definition_id, weight in configs:
            if await session.get(SqlModelDefinition, model_definition_id) is None:
                raise _not_found("Model definition", model_definition_id)
            mapping_id = _new_id("m")
            session.add(
                SqlEndpointModelMapping(
                    mapping_id=mapping_id,
                    endpoint_id=endpoint_id,
                    model_definition_id=model_definition_id,
                    weight=weight,
                    created_at=now,
                    created_by=created_by,
                )
            )
            mapping_ids.append(mapping_id)
        await session.flush()
        return mapping_ids

    @staticmethod
    async def _endpoint_by_name(session: AsyncSession, name: str) -> SqlEndpoint | None:
        query = select(SqlEndpoint).where(SqlEndpoint.name == name)
        return (await session.execute(query)).scalar_one_or_none()

    async def _endpoint_row(
        self, session: AsyncSession, endpoint_id: str | None, name: str | None = None
    ) -> SqlEndpoint:
        if endpoint_id:
            row = await session.get(SqlEndpoint, endpoint_id)
            if row is None:
                raise _not_found("Endpoint", endpoint_id)
            return row
        if name:
            row = await self._endpoint_by_name(session, name)
            if row is None:
                raise _not_found("Endpoint", name)
            return row
        raise MlflowException(
            "Either endpoint_id or name must be provided", error_code=INVALID_PARAMETER_VALUE
        )

    async def _load_endpoints(
        self, session: AsyncSession, rows: list[SqlEndpoint]
    ) -> list[GatewayEndpoint]:
        ids = [row.endpoint_id for row in rows]
        if not ids:
            return []
        mapping_rows = await session.execute(
            select(SqlEndpointModelMapping, SqlModelDefinition, SqlSecret.secret_name)
            .join(
                SqlModelDefinition,
                SqlModelDefinition.model_definition_id
                == SqlEndpointModelMapping.model_definition_id,
            )
            .outerjoin(SqlSecret, SqlSecret.secret_id == SqlModelDefinition.secret_id)
            .where(SqlEndpointModelMapping.endpoint_id.in_(ids))
            .order_by(SqlEndpointModelMapping.created_at, SqlEndpointModelMapping.mapping_id)
        )
        mappings: dict[str, list[GatewayEndpointModelMapping]] = {i: [] for i in ids}
        for mapping, definition, secret_name in mapping_rows:
            mappings[mapping.endpoint_id].append(
                GatewayEndpointModelMapping(
                    mapping_id=mapping.mapping_id,
                    endpoint_id=mapping.endpoint_id,
                    model_definition_id=mapping.model_definition_id,
                    model_definition=self._model_definition(definition, secret_name),
                    weight=mapping.weight,
                    created_at=mapping.created_at,
                    created_by=mapping.created_by,
                )
            )
        tag_rows = await session.execute(
            select(SqlEndpointTag)
            .where(SqlEndpointTag.endpoint_id.in_(ids))
            .order_by(SqlEndpointTag.key)
        )
        tags: dict[str, list[GatewayEndpointTag]] = {i: [] for i in ids}
        for tag in tag_rows.scalars():
            tags[tag.endpoint_id].append(GatewayEndpointTag(key=tag.key, value=tag.value))
        return [
            GatewayEndpoint(
                endpoint_id=row.endpoint_id,
                name=row.name,
                created_at=row.created_at,
                last_updated_at=row.last_updated_at,
                model_mappings=mappings[row.endpoint_id],
                tags=tags[row.endpoint_id],
                created_by=row.created_by,
                last_updated_by=row.last_updated_by,
            )
            for row in rows
        ]

    async def get_endpoint(
        self, endpoint_id: str | None = None, name: str | None = None
    ) -> GatewayEndpoint:
        async with self._sessions() as session:
            row = await self._endpoint_row(session, endpoint_id, name)
            return (await self._load_endpoints(session, [row]))[0]

    async def list_endpoints(
        self, provider: str | None = None, secret_id: str | None = None
    ) -> list[GatewayEndpoint]:
        query = select(SqlEndpoint).order_by(SqlEndpoint.created_at, SqlEndpoint.endpoint_id)
        if provider or secret_id:
            matching = select(SqlEndpointModelMapping.endpoint_id).join(
                SqlModelDefinition,
                SqlModelDefinition.model_definition_id
                == SqlEndpointModelMapping.model_definition_id,
            )
            if provider:
                matching = matching.where(SqlModelDefinition.provider == provider)
            if secret_id:
                matching = matching.where(SqlModelDefinition.secret_id == secret_id)
            query = query.where(SqlEndpoint.endpoint_id.in_(matching))
        async with self._sessions() as session:
            rows = list((await session.execute(query)).scalars())
            return await self._load_endpoints(session, rows)

    async def update_endpoint(
        self,
        endpoint_id: str,
        name: str | None = None,
        model_configs: list[dict[str, Any]] | None = None,
        updated_by: str | None = None,
    ) -> GatewayEndpoint:
        if name is not None:
            validation.check_endpoint_name(name)
        configs = (
            validation.check_model_configs(model_configs) if model_configs is not None else None
        )
        updated_by = validation.check_optional_user(updated_by, "updated_by")
        async with self._sessions() as session:
            try:
                async with session.begin():
                    row = await self._endpoint_row(session, endpoint_id)
                    if name is not None and name != row.name:
                        if await self._endpoint_by_name(session, name) is not None:
                            raise _exists("Endpoint", name)
                        row.name = name
                    now = max(self._now(), row.last_updated_at + 1)
                    if configs is not None:
                        # Replaces every existing mapping, as MLflow's update does.
                        await session.execute(
                            delete(SqlEndpointModelMapping).where(
                                SqlEndpointModelMapping.endpoint_id == endpoint_id
                            )
                        )
                        await self._add_mappings(session, endpoint_id, configs, updated_by, now)
                    row.last_updated_at = now
                    row.last_updated_by = updated_by
                    await self._bump(session)
            except IntegrityError:
                raise _exists("Endpoint", name) from None
        return await self.get_endpoint(endpoint_id)

    async def delete_endpoint(self, endpoint_id: str) -> None:
        """Removes the endpoint with its mappings, tags and bindings, in one transaction."""
        async with self._sessions() as session, session.begin():
            await self._endpoint_row(session, endpoint_id)
            for table in (SqlEndpointModelMapping, SqlEndpointTag, SqlEndpointBinding):
                await session.execute(delete(table).where(table.endpoint_id == endpoint_id))
            await session.execute(delete(SqlEndpoint).where(SqlEndpoint.endpoint_id == endpoint_id))
            await self._bump(session)

    # ------------------------------------------------------------------ mappings

    async def attach_model_to_endpoint(
        self,
        endpoint_id: str,
        model_definition_id: str,
        weight: float = 1.0,
        created_by: str | None = None,
    ) -> GatewayEndpointModelMapping:
        weight = validation.check_weight(weight)
        created_by = validation.check_optional_user(created_by, "created_by")
        async with self._sessions() as session:
            try:
                async with session.begin():
                    row = await self._endpoint_row(session, endpoint_id)
                    existing = await self._mapping(session, endpoint_id, model_definition_id)
                    if existing is not None:
                        raise MlflowException(
                            f"Model definition '{model_definition_id}' is already attached to "
                            f"endpoint '{endpoint_id}'; change its weight with "
                            "update_endpoint_model_mapping",
                            error_code=RESOURCE_ALREADY_EXISTS,
                        )
                    now = self._now()
                    (mapping_id,) = await self._add_mappings(
                        session, endpoint_id, [(model_definition_id, weight)], created_by, now
                    )
                    row.last_updated_at = max(now, row.last_updated_at + 1)
                    await self._bump(session)
            except IntegrityError:
                raise MlflowException(
                    f"Model definition '{model_definition_id}' is already attached to endpoint "
                    f"'{endpoint_id}'",
                    error_code=RESOURCE_ALREADY_EXISTS,
                ) from None
        return await self._get_mapping(mapping_id)

    @staticmethod
    async def _mapping(session: AsyncSession, endpoint_id: str, model_definition_id: str):
        query = select(SqlEndpointModelMapping).where(
            SqlEndpointModelMapping.endpoint_id == endpoint_id,
            SqlEndpointModelMapping.model_definition_id == model_definition_id,
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def _get_mapping(self, mapping_id: str) -> GatewayEndpointModelMapping:
        async with self._sessions() as session:
            mapping = await session.get(SqlEndpointModelMapping, mapping_id)
            if mapping is None:
                raise _not_found("Model mapping", mapping_id)
            endpoint = await session.get(SqlEndpoint, mapping.endpoint_id)
            (loaded,) = await self._load_endpoints(session, [endpoint])
        return next(m for m in loaded.model_mappings if m.mapping_id == mapping_id)

    async def update_endpoint_model_mapping(
        self, mapping_id: str, weight: float
    ) -> GatewayEndpointModelMapping:
        weight = validation.check_weight(weight)
        async with self._sessions() as session, session.begin():
            mapping = await session.get(SqlEndpointModelMapping, mapping_id)
            if mapping is None:
                raise _not_found("Model mapping", mapping_id)
            mapping.weight = weight
            await self._bump(session)
        return await self._get_mapping(mapping_id)

    async def detach_model_from_endpoint(self, endpoint_id: str, model_definition_id: str) -> None:
        async with self._sessions() as session, session.begin():
            await self._endpoint_row(session, endpoint_id)
            mapping = await self._mapping(session, endpoint_id, model_definition_id)
            if mapping is None:
                raise MlflowException(
                    f"Model definition '{model_definition_id}' is not attached to endpoint "
                    f"'{endpoint_id}'",
                    error_code=RESOURCE_DOES_NOT_EXIST,
                )
            await session.delete(mapping)
            await self._bump(session)

    # ------------------------------------------------------------------ tags

    async def set_endpoint_tag(self, endpoint_id: str, key: str, value: str | None) -> None:
        key, value = validation.check_tag(key, value)
        async with self._sessions() as session, session.begin():
            await self._endpoint_row(session, endpoint_id)
            await session.merge(SqlEndpointTag(endpoint_id=endpoint_id, key=key, value=value))
            await self._bump(session)

    async def delete_endpoint_tag(self, endpoint_id: str, key: str) -> None:
        async with self._sessions() as session, session.begin():
            await self._endpoint_row(session, endpoint_id)
            tag = await session.get(SqlEndpointTag, (endpoint_id, key))
            if tag is None:
                raise MlflowException(
                    f"Endpoint '{endpoint_id}' has no tag '{key}'",
                    error_code=RESOURCE_DOES_NOT_EXIST,
                )
            await session.delete(tag)
            await self._bump(session)

    # ------------------------------------------------------------------ bindings

    @staticmethod
    def _binding(row: SqlEndpointBinding) -> GatewayEndpointBinding:
        return GatewayEndpointBinding(
            endpoint_id=row.endpoint_id,
            resource_type=GatewayResourceType(row.resource_type),
            resource_id=row.resource_id,
            created_at=row.created_at,
            last_updated_at=row.last_updated_at,
            created_by=row.created_by,
            last_updated_by=row.last_updated_by,
        )

    async def create_endpoint_binding(
        self,
        endpoint_id: str,
        resource_type: str | GatewayResourceType,
        resource_id: str,
        created_by: str | None = None,
    ) -> GatewayEndpointBinding:
        kind = GatewayResourceType.parse(resource_type)
        validation.check_name(resource_id, "resource_id")
        created_by = validation.check_optional_user(created_by, "created_by")
        key = (endpoint_id, kind.value, resource_id)
        now = self._now()
        row = SqlEndpointBinding(
            endpoint_id=endpoint_id,
            resource_type=kind.value,
            resource_id=resource_id,
            created_at=now,
            last_updated_at=now,
            created_by=created_by,
            last_updated_by=created_by,
        )
        duplicate = MlflowException(
            f"Endpoint '{endpoint_id}' is already bound to {kind.value} '{resource_id}'",
            error_code=RESOURCE_ALREADY_EXISTS,
        )
        async with self._sessions() as session:
            try:
                async with session.begin():
                    await self._endpoint_row(session, endpoint_id)
                    if await session.get(SqlEndpointBinding, key) is not None:
                        raise duplicate
                    session.add(row)
                    await self._bump(session)
            except IntegrityError:
                raise duplicate from None
        return self._binding(row)

    async def delete_endpoint_binding(
        self, endpoint_id: str, resource_type: str | GatewayResourceType, resource_id: str
    ) -> None:
        kind = GatewayResourceType.parse(resource_type)
        async with self._sessions() as session, session.begin():
            row = await session.get(SqlEndpointBinding, (endpoint_id, kind.value, resource_id))
            if row is None:
                raise MlflowException(
                    f"No binding of endpoint '{endpoint_id}' to {kind.value} '{resource_id}'",
                    error_code=RESOURCE_DOES_NOT_EXIST,
                )
            await session.delete(row)
            await self._bump(session)

    async def list_endpoint_bindings(
        self,
        endpoint_id: str | None = None,
        resource_type: str | GatewayResourceType | None = None,
        resource_id: str | None = None,
    ) -> list[GatewayEndpointBinding]:
        query = select(SqlEndpointBinding).order_by(
            SqlEndpointBinding.created_at, SqlEndpointBinding.resource_id
        )
        if endpoint_id:
            query = query.where(SqlEndpointBinding.endpoint_id == endpoint_id)
        if resource_type:
            kind = GatewayResourceType.parse(resource_type)
            query = query.where(SqlEndpointBinding.resource_type == kind.value)
        if resource_id:
            query = query.where(SqlEndpointBinding.resource_id == resource_id)
        async with self._sessions() as session:
            return [self._binding(row) for row in (await session.execute(query)).scalars()]

    # ------------------------------------------------------------------ serving

    async def resolve_endpoint(self, name: str) -> ResolvedEndpoint:
        """The endpoint's models with decrypted credentials, for the serving routes."""
        async with self._sessions() as session:
            endpoint = await self._endpoint_by_name(session, name)
            if endpoint is None:
                raise _not_found("Endpoint", name)
            limit_tag = await session.get(
                SqlEndpointTag, (endpoint.endpoint_id, validation.LIMIT_TAG)
            )
            limit = validation.check_limit_tag(limit_tag.value) if limit_tag is not None else None
            rows = (
                await session.execute(
                    select(SqlEndpointModelMapping, SqlModelDefinition, SqlSecret)
                    .join(
                        SqlModelDefinition,
                        SqlModelDefinition.model_definition_id
                        == SqlEndpointModelMapping.model_definition_id,
                    )
                    .outerjoin(SqlSecret, SqlSecret.secret_id == SqlModelDefinition.secret_id)
                    .where(SqlEndpointModelMapping.endpoint_id == endpoint.endpoint_id)
                    .order_by(
                        SqlEndpointModelMapping.created_at, SqlEndpointModelMapping.mapping_id
                    )
                )
            ).all()
        models = []
        for mapping, definition, secret in rows:
            value, auth = ({}, {})
            if secret is not None:
                value, auth = await self._decrypt(secret), json.loads(secret.auth_config)
            models.append(
                ResolvedModel(
                    mapping_id=mapping.mapping_id,
                    model_definition_id=definition.model_definition_id,
                    provider=definition.provider,
                    model_name=definition.model_name,
                    weight=mapping.weight,
                    secret_value=value,
                    auth_config=auth,
                )
            )
        return ResolvedEndpoint(
            endpoint_id=endpoint.endpoint_id, name=name, models=models, limit=limit
        )


def wrong_passphrase_error(version: int) -> MlflowException:
    return MlflowException(
        f"{crypto.CRYPTO_KEK_PASSPHRASE_ENV_VAR} does not match the key-encryption key (version "
        f"{version}) that protects this database's secrets. Set it to the passphrase the secrets "
        "were stored under; to change the passphrase, run `mlflow crypto rotate-kek`.",
        error_code=INVALID_PARAMETER_VALUE,
    )
