"""Alembic environment for the gateway tables. Run programmatically (``migrate.upgrade``) on a
connection the caller owns; there is no alembic.ini."""

from alembic import context

from mlflow.store.gateway.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table="gateway_alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
