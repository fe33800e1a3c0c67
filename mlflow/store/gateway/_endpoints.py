"""Endpoints with their weighted model mappings and tags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mlflow.entities import (
    GatewayEndpoint,
    GatewayEndpointModelMapping,
    GatewayEndpointTag,
)
from mlflow.exceptions import (
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    MlflowException,
)
from mlflow.store.gateway import validation
from mlflow.store.gateway._core import (
    _exists,
    _new_id,
    _not_found,
    _row_by_id_or_name,
)
from mlflow.store.gateway.models import (
    SqlEndpoint,
    SqlEndpointBinding,
    SqlEndpointModelMapping,
    SqlEndpointTag,
    SqlModelDefinition,
    SqlSecret,
)


class EndpointsMixin:
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
        checked_tags = validation.check_tags(tags)
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
        return await _row_by_id_or_name(
            session, SqlEndpoint, self._endpoint_by_name, "Endpoint", endpoint_id, name,
            "endpoint_id or name",
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
