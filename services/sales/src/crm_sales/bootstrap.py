"""Wires concrete classes together; the only place that does."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from crm.sales.v1 import account_projection_pb2, account_projection_pb2_grpc
from crm_platform.db.engine import create_engine, create_session_factory
from crm_platform.events.connection import connect_nats
from crm_platform.events.consumer import EventConsumer
from crm_platform.events.streams import stream_name
from crm_platform.service import ServiceRuntime
from crm_platform.settings import ServiceSettings
from crm_sales.api.servicers import AccountProjectionServicer
from crm_sales.events.inbound import ACCOUNT_SUBJECTS, account_handlers
from crm_sales.repository.account_projection import SqlProjectionStore


async def bootstrap(settings: ServiceSettings) -> ServiceRuntime:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessions = create_session_factory(engine)
    nats = await connect_nats(settings.nats_url, name=settings.service_name)
    handlers, batch_handler = account_handlers(SqlProjectionStore)
    consumer = EventConsumer(
        nats,
        sessions,
        stream=stream_name("customer"),
        durable="sales-account-projection",
        subjects=ACCOUNT_SUBJECTS,
        handlers=handlers,
        batch_handler=batch_handler,
        max_deliver=settings.consumer_max_deliver,
        stream_replicas=settings.nats_stream_replicas,
    )

    @asynccontextmanager
    async def store() -> AsyncIterator[SqlProjectionStore]:
        async with sessions() as session:
            yield SqlProjectionStore(session)

    service = account_projection_pb2.DESCRIPTOR.services_by_name["AccountProjectionService"]
    return ServiceRuntime(
        registrations=[
            (
                account_projection_pb2_grpc.add_AccountProjectionServiceServicer_to_server,
                AccountProjectionServicer(store),
                service.full_name,
            ),
        ],
        workers=[consumer],
        closers=[nats.close, engine.dispose],
    )
