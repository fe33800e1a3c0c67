"""Bindings of endpoints to MLflow resources; (endpoint, type, id) is unique."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mlflow.entities import (
    GatewayEndpointBinding,
    GatewayResourceType,
)
from mlflow.exceptions import (
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    MlflowException,
)
from mlflow.store.gateway import validation
from mlflow.store.gateway.models import (
    SqlEndpointBinding,
)


class BindingsMixin:
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
