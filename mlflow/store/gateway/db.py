"""Engines and schema migrations for the gateway store.

``sqlite:///path`` runs on aiosqlite and ``postgresql://`` on asyncpg; a URI that already names an
async driver (``sqlite+aiosqlite://``, ``postgresql+asyncpg://``) is used as given. Migrations are
Alembic revisions in ``migrations/``, applied at start-up on a connection we own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def async_url(uri: str):
    try:
        url = make_url(uri)
    except ArgumentError:
        url = None
    if url is None or url.drivername not in _DRIVERS:
        raise MlflowException(
            "Unsupported backend store URI: use sqlite:///path/to/gateway.db or "
            "postgresql://user@host:port/dbname",
            error_code=INVALID_PARAMETER_VALUE,
        )
    return url.set(drivername=_DRIVERS[url.drivername])


def create_engine(uri: str) -> AsyncEngine:
    url = async_url(uri)
    if url.drivername.startswith("sqlite"):
        in_memory = url.database in (None, "", ":memory:")
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            **({"poolclass": StaticPool} if in_memory else {}),
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL: readers (serving workers) never wait for a writer (the management API).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
    cursor.close()


def _upgrade(connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade(engine: AsyncEngine, attempts: int = 3) -> None:
    """Bring the schema to the newest revision. Workers starting together on a new database race
    to create it; the loser retries and finds it done."""
    for attempt in range(attempts):
        try:
            async with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # One migrator at a time; released at commit.
                    from sqlalchemy import text

                    await connection.execute(text("SELECT pg_advisory_xact_lock(741852963)"))
                await connection.run_sync(_upgrade)
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
