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
    async with _customer(database_url, nats_url, import_processes=0) as channel:
        yield channel


@pytest.fixture
async def customer_with_import_process(
    database_url: str, nats_url: str
) -> AsyncIterator[grpc.aio.Channel]:
    async with _customer(database_url, nats_url, import_processes=1) as channel:
        yield channel


@asynccontextmanager
async def _customer(
    database_url: str, nats_url: str, *, import_processes: int
) -> AsyncIterator[grpc.aio.Channel]:
    async with running_service(
        CustomerSettings,
        bootstrap,
        migrations=MIGRATIONS,
        database_url=database_url,
        nats_url=nats_url,
        import_processes=import_processes,
    ) as channel:
        yield channel
