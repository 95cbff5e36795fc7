"""Wires concrete classes together; the only place that does."""

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from crm.customer.v1 import (
    custom_fields_pb2,
    custom_fields_pb2_grpc,
    customer_pb2,
    customer_pb2_grpc,
    exports_pb2,
    exports_pb2_grpc,
    imports_pb2,
    imports_pb2_grpc,
    loyalty_pb2,
    loyalty_pb2_grpc,
    merge_pb2,
    merge_pb2_grpc,
    segments_pb2,
    segments_pb2_grpc,
    timeline_pb2,
    timeline_pb2_grpc,
)
from crm_customer.api.custom_fields import CustomFieldServicer
from crm_customer.api.exports import ExportServicer
from crm_customer.api.imports import ImportServicer
from crm_customer.api.loyalty import LoyaltyServicer
from crm_customer.api.merge import HistoryServicer, MergeServicer
from crm_customer.api.segments import SegmentServicer
from crm_customer.api.servicers import AccountServicer, ContactServicer
from crm_customer.api.timeline import TimelineServicer
from crm_customer.config import CustomerSettings
from crm_customer.events.outbound import to_outbox_event
from crm_customer.events.timeline import timeline_handler
from crm_customer.events.timeline_kinds import OWN_SUBJECTS
from crm_customer.repository.imports import NOTIFY_CHANNEL
from crm_customer.repository.timeline import SqlTimeline
from crm_customer.repository.unit_of_work import SqlUnitOfWork
from crm_customer.usecases.import_runner import ImportRunner
from crm_customer.usecases.imports import FileLimits
from crm_platform.db.engine import (
    asyncpg_dsn,
    autocommit,
    create_engine,
    create_session_factory,
)
from crm_platform.events.connection import ResilientClient, connect_nats
from crm_platform.events.consumer import EventConsumer
from crm_platform.events.listener import Notifications
from crm_platform.events.relay import OutboxRelay
from crm_platform.events.streams import ensure_service_stream, stream_name, stream_subjects
from crm_platform.service import ServiceRuntime
from crm_platform.settings import ServiceSettings

# Similar names (repository/search.py): 0.5 rather than pg_trgm's 0.6 also finds a name
# with a letter changed or two swapped ("jonathon", "Schmdit"). A random read costs about
# what a sequential one does on SSDs and in cache; at the default 4 the planner would
# rather walk the whole primary key for a search matching a thousand rows than read them.
SEARCH_SETTINGS = {"pg_trgm.word_similarity_threshold": "0.5", "random_page_cost": "1.1"}


async def bootstrap(settings: ServiceSettings) -> ServiceRuntime:
    customer = settings if isinstance(settings, CustomerSettings) else CustomerSettings()
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

    dsn = asyncpg_dsn(settings.database_url)

    async def listen(wake: asyncio.Event) -> None:
        await Notifications(dsn, NOTIFY_CHANNEL, wake).run()

    runner = ImportRunner(
        uow,
        batch_rows=customer.import_batch_rows,
        lease_seconds=customer.import_lease_seconds,
        spool_dir=customer.import_spool_dir,
        listen=listen,
    )
    imports = ImportServicer(
        uow=uow,
        reads=reads,
        limits=FileLimits(customer.import_max_bytes, customer.import_max_rows),
        queued=runner.wake,
        spool_dir=customer.import_spool_dir,
    )
    timeline = timeline_consumers(customer, nats, engine)
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
            (
                imports_pb2_grpc.add_ImportServiceServicer_to_server,
                imports,
                imports_pb2.DESCRIPTOR.services_by_name["ImportService"].full_name,
            ),
            (
                segments_pb2_grpc.add_SegmentServiceServicer_to_server,
                SegmentServicer(uow=uow, reads=reads),
                segments_pb2.DESCRIPTOR.services_by_name["SegmentService"].full_name,
            ),
            (
                custom_fields_pb2_grpc.add_CustomFieldServiceServicer_to_server,
                CustomFieldServicer(uow=uow),
                custom_fields_pb2.DESCRIPTOR.services_by_name["CustomFieldService"].full_name,
            ),
            (
                timeline_pb2_grpc.add_TimelineServiceServicer_to_server,
                TimelineServicer(reads=reads),
                timeline_pb2.DESCRIPTOR.services_by_name["TimelineService"].full_name,
            ),
            (
                loyalty_pb2_grpc.add_LoyaltyServiceServicer_to_server,
                LoyaltyServicer(uow=uow),
                loyalty_pb2.DESCRIPTOR.services_by_name["LoyaltyService"].full_name,
            ),
            (
                merge_pb2_grpc.add_MergeServiceServicer_to_server,
                MergeServicer(uow=uow),
                merge_pb2.DESCRIPTOR.services_by_name["MergeService"].full_name,
            ),
            (
                merge_pb2_grpc.add_HistoryServiceServicer_to_server,
                HistoryServicer(reads=reads),
                merge_pb2.DESCRIPTOR.services_by_name["HistoryService"].full_name,
            ),
            (
                exports_pb2_grpc.add_ExportServiceServicer_to_server,
                ExportServicer(reads=reads),
                exports_pb2.DESCRIPTOR.services_by_name["ExportService"].full_name,
            ),
        ],
        workers=[relay, runner, *timeline],
        closers=[nats.close, engine.dispose],
    )


def timeline_consumers(
    settings: CustomerSettings, nats: ResilientClient, engine: AsyncEngine
) -> list[EventConsumer]:
    """One durable consumer per publishing service's stream, and one for this service's own
    contact events. A stream not provisioned yet is waited for (EventConsumer.run)."""
    sessions = create_session_factory(engine)
    handler = timeline_handler(SqlTimeline)
    sources = [(source, stream_subjects(source)) for source in settings.timeline_sources] + [
        (settings.service_name, OWN_SUBJECTS)
    ]
    return [
        EventConsumer(
            nats,
            sessions,
            stream=stream_name(source),
            durable=f"customer-timeline-{source}",
            subjects=subjects,
            handlers={},
            fallback=handler,
            max_deliver=settings.consumer_max_deliver,
            stream_replicas=settings.nats_stream_replicas,
        )
        for source, subjects in sources
    ]
