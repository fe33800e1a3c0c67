"""The gateway's tables (SQLAlchemy 2 declarative). The Alembic revisions in ``migrations/`` create
them; this module is what the store queries through."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TAG_KEY_MAX = 250
TAG_VALUE_MAX = 5000
NAME_MAX = 255


class Base(DeclarativeBase):
    pass


class SqlMeta(Base):
    """Database-wide settings: KDF salt and iterations, current KEK version and its check token,
    and the config version every write bumps (workers poll it to drop their caches)."""

    __tablename__ = "gateway_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SqlSecret(Base):
    __tablename__ = "gateway_secrets"
    secret_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    secret_name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    auth_config: Mapped[str] = mapped_column(Text, default="{}")  # JSON, not secret
    masked_values: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    encrypted_value: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_dek: Mapped[bytes] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_updated_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)
    last_updated_by: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)


class SqlModelDefinition(Base):
    __tablename__ = "gateway_model_definitions"
    model_definition_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    secret_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("gateway_secrets.secret_id", ondelete="SET NULL"), nullable=True
    )
    provider: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(NAME_MAX))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_updated_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)
    last_updated_by: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)


class SqlEndpoint(Base):
    __tablename__ = "gateway_endpoints"
    endpoint_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(NAME_MAX), unique=True, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_updated_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)
    last_updated_by: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)


class SqlEndpointModelMapping(Base):
    __tablename__ = "gateway_endpoint_model_mappings"
    __table_args__ = (UniqueConstraint("endpoint_id", "model_definition_id"),)
    mapping_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("gateway_endpoints.endpoint_id", ondelete="CASCADE")
    )
    model_definition_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("gateway_model_definitions.model_definition_id")
    )
    weight: Mapped[float] = mapped_column(Float)
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)


class SqlEndpointTag(Base):
    __tablename__ = "gateway_endpoint_tags"
    endpoint_id: Mapped[str] = mapped_column(
        String(36),
        ForeignKey("gateway_endpoints.endpoint_id", ondelete="CASCADE"),
        primary_key=True,
    )
    key: Mapped[str] = mapped_column(String(TAG_KEY_MAX), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(TAG_VALUE_MAX), nullable=True)


class SqlEndpointBinding(Base):
    __tablename__ = "gateway_endpoint_bindings"
    endpoint_id: Mapped[str] = mapped_column(
        String(36),
        ForeignKey("gateway_endpoints.endpoint_id", ondelete="CASCADE"),
        primary_key=True,
    )
    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(NAME_MAX), primary_key=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_updated_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)
    last_updated_by: Mapped[str | None] = mapped_column(String(NAME_MAX), nullable=True)
