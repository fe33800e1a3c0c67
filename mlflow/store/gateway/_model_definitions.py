"""Model definitions: a provider, a model name and the secret holding its credentials."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mlflow.entities import (
    GatewayModelDefinition,
)
from mlflow.exceptions import (
    INVALID_PARAMETER_VALUE,
    MlflowException,
)
from mlflow.store.gateway import validation
from mlflow.store.gateway._core import (
    _exists,
    _new_id,
    _not_found,
)
from mlflow.store.gateway.models import (
    SqlEndpoint,
    SqlEndpointModelMapping,
    SqlModelDefinition,
    SqlSecret,
)


class ModelDefinitionsMixin:
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
