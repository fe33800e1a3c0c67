"""Gateway tables: secrets, model definitions, endpoints, mappings, tags, bindings, meta.

Revision ID: 0001_gateway_tables
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_gateway_tables"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "gateway_secrets",
        sa.Column("secret_id", sa.String(36), primary_key=True),
        sa.Column("secret_name", sa.String(255), nullable=False, unique=True),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("auth_config", sa.Text(), nullable=False),
        sa.Column("masked_values", sa.Text(), nullable=False),
        sa.Column("encrypted_value", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("last_updated_by", sa.String(255), nullable=True),
    )
    op.create_table(
        "gateway_model_definitions",
        sa.Column("model_definition_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column(
            "secret_id",
            sa.String(36),
            sa.ForeignKey("gateway_secrets.secret_id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("last_updated_by", sa.String(255), nullable=True),
    )
    op.create_table(
        "gateway_endpoints",
        sa.Column("endpoint_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=True, unique=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("last_updated_by", sa.String(255), nullable=True),
    )
    op.create_table(
        "gateway_endpoint_model_mappings",
        sa.Column("mapping_id", sa.String(36), primary_key=True),
        sa.Column(
            "endpoint_id",
            sa.String(36),
            sa.ForeignKey("gateway_endpoints.endpoint_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "model_definition_id",
            sa.String(36),
            sa.ForeignKey("gateway_model_definitions.model_definition_id"),
            nullable=False,
        ),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.UniqueConstraint("endpoint_id", "model_definition_id"),
    )
    op.create_table(
        "gateway_endpoint_tags",
        sa.Column(
            "endpoint_id",
            sa.String(36),
            sa.ForeignKey("gateway_endpoints.endpoint_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.String(5000), nullable=True),
    )
    op.create_table(
        "gateway_endpoint_bindings",
        sa.Column(
            "endpoint_id",
            sa.String(36),
            sa.ForeignKey("gateway_endpoints.endpoint_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("resource_id", sa.String(255), primary_key=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("last_updated_by", sa.String(255), nullable=True),
    )


def downgrade() -> None:
    for table in (
        "gateway_endpoint_bindings",
        "gateway_endpoint_tags",
        "gateway_endpoint_model_mappings",
        "gateway_endpoints",
        "gateway_model_definitions",
        "gateway_secrets",
        "gateway_meta",
    ):
        op.drop_table(table)
