"""Secrets: stored encrypted (envelope AES-GCM); read back decrypted only for serving."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mlflow.entities import (
    GatewaySecretInfo,
)
from mlflow.store.gateway import validation
from mlflow.store.gateway._core import (
    _exists,
    _new_id,
    _row_by_id_or_name,
)
from mlflow.store.gateway.models import (
    SqlModelDefinition,
    SqlSecret,
)
from mlflow.utils import crypto


class SecretsMixin:
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
        return await _row_by_id_or_name(
            session, SqlSecret, self._secret_by_name, "Secret", secret_id, secret_name,
            "secret_id or secret_name",
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
