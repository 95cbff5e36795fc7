"""Alembic helpers: each service keeps its own migrations folder and database.

A service's `migrations/env.py` is one call to `run_env()`. `upgrade_to_head` runs its own
event loop, so call it from synchronous code (the CLI) or `asyncio.to_thread` in tests.
"""

import asyncio
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic import command, context
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def revision_module(versions_dir: Path, revision: str) -> ModuleType:
    """The migration file of `revision` ("0017", its name's prefix), loaded: for a later
    migration or a test to read what it defined, rather than keep a copy."""
    path = next(versions_dir.glob(f"{revision}_*.py"))
    spec = importlib.util.spec_from_file_location(f"revision_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load migration {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    # "heads": branches written side by side (and merged later) all apply.
    command.upgrade(alembic_config(migrations_dir, database_url), "heads")


def run_env() -> None:
    """Body of every service's migrations/env.py: online migrations over asyncpg."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not configured")
    asyncio.run(_run_online(url))


async def _run_online(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_sync(connection: Connection) -> None:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def schema_drift(database_url: str, metadata: MetaData) -> list[Any]:
    """Differences between the migrated database and the code's tables (empty when in sync).
    Synchronous like upgrade_to_head; tests call both through asyncio.to_thread."""
    return asyncio.run(_compare(database_url, metadata))


async def _compare(database_url: str, metadata: MetaData) -> list[Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()
