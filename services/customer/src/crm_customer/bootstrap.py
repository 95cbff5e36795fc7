"""Wires concrete classes together; the only place that does."""

from crm.customer.v1 import customer_pb2, customer_pb2_grpc
from crm_customer.api.servicers import AccountServicer, ContactServicer
from crm_customer.events.outbound import to_outbox_event
from crm_customer.repository.unit_of_work import SqlUnitOfWork
from crm_platform.db.engine import autocommit, create_engine
from crm_platform.events.connection import connect_nats
from crm_platform.events.relay import OutboxRelay
from crm_platform.events.streams import ensure_service_stream
from crm_platform.service import ServiceRuntime
from crm_platform.settings import ServiceSettings

# Similar names (repository/search.py): 0.5 rather than pg_trgm's 0.6 also finds a name
# with two letters swapped ("Kowlaska" for "Kowalska").
SEARCH_SETTINGS = {"pg_trgm.word_similarity_threshold": "0.5"}


async def bootstrap(settings: ServiceSettings) -> ServiceRuntime:
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        server_settings=SEARCH_SETTINGS,
    )
    nats = await connect_nats(settings.nats_url, name=settings.service_name)
    relay = OutboxRelay(
        engine,
        nats,
        poll_interval=settings.outbox_poll_interval_seconds,
        on_connect=lambda js: ensure_service_stream(
            js, settings.service_name, replicas=settings.nats_stream_replicas
        ),
    )

    read_engine = autocommit(engine)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, to_outbox_event)

    def reads() -> SqlUnitOfWork:
        return SqlUnitOfWork(read_engine, to_outbox_event)

    services = customer_pb2.DESCRIPTOR.services_by_name
    return ServiceRuntime(
        registrations=[
            (
                customer_pb2_grpc.add_AccountServiceServicer_to_server,
                AccountServicer(uow=uow, reads=reads),
                services["AccountService"].full_name,
            ),
            (
                customer_pb2_grpc.add_ContactServiceServicer_to_server,
                ContactServicer(uow=uow, reads=reads),
                services["ContactService"].full_name,
            ),
        ],
        workers=[relay],
        closers=[nats.close, engine.dispose],
    )
