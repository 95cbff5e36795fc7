"""The customer service running on real PostgreSQL and NATS, reached over gRPC."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest

from crm_customer.bootstrap import bootstrap
from crm_customer.config import CustomerSettings
from crm_platform.testing.services import running_service

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@pytest.fixture
async def customer(database_url: str, nats_url: str) -> AsyncIterator[grpc.aio.Channel]:
    """Imports run in the service's process: a worker process per test would cost each a
    second of start-up; `customer_with_import_process` and the e2e tests cover that."""
    async with running_customer(database_url, nats_url, import_processes=0) as channel:
        yield channel


@pytest.fixture
async def customer_with_import_process(
    database_url: str, nats_url: str
) -> AsyncIterator[grpc.aio.Channel]:
    async with running_customer(database_url, nats_url, import_processes=1) as channel:
        yield channel


# Imports that write at least this many records leave their table vacuumed (the default is
# 10,000; test files are a few rows).
VACUUM_AFTER_ROWS = 5


@pytest.fixture
async def customer_vacuuming_small_imports(
    database_url: str, nats_url: str
) -> AsyncIterator[grpc.aio.Channel]:
    async with running_customer(
        database_url, nats_url, import_processes=0, import_vacuum_after_rows=VACUUM_AFTER_ROWS
    ) as channel:
        yield channel


@asynccontextmanager
async def running_customer(
    database_url: str, nats_url: str, *, import_processes: int, **settings: object
) -> AsyncIterator[grpc.aio.Channel]:
    """The service with these settings (CustomerSettings fields) over the defaults."""
    async with running_service(
        CustomerSettings,
        bootstrap,
        migrations=MIGRATIONS,
        database_url=database_url,
        nats_url=nats_url,
        import_processes=import_processes,
        **settings,
    ) as channel:
        yield channel
