"""Resolution of an endpoint name for the serving routes (decrypted credentials)."""

from __future__ import annotations

import json

from sqlalchemy import select

from mlflow.store.gateway import validation
from mlflow.store.gateway._core import (
    ResolvedEndpoint,
    ResolvedModel,
    _not_found,
)
from mlflow.store.gateway.models import (
    SqlEndpointModelMapping,
    SqlEndpointTag,
    SqlModelDefinition,
    SqlSecret,
)


class ServingMixin:
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
