"""Wires concrete classes together; the only place that does."""

import asyncio
import datetime as dt
import functools
import os
import signal
from collections.abc import Callable

import uvloop
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
from crm_customer.events.timeline import add_own_entries, own_entries, timeline_handlers
from crm_customer.repository.imports import NOTIFY_CHANNEL
from crm_customer.repository.timeline import SqlTimeline
from crm_customer.repository.unit_of_work import SqlUnitOfWork
from crm_customer.repository.upkeep import vacuum_analyze
from crm_customer.usecases.import_runner import ImportRunner
from crm_customer.usecases.imports import FileLimits
from crm_customer.usecases.loyalty_sweep import ExpirySweeper
from crm_platform.child_process import ChildProcess
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
from crm_platform.gc_tuning import collect_less
from crm_platform.service import BackgroundWorker, ServiceRuntime
from crm_platform.settings import ServiceSettings
from crm_platform.telemetry import setup_telemetry

# Events the timeline fetches and applies in one transaction: an import sends one per row.
TIMELINE_BATCH = 500
# Similar names (repository/search.py): 0.5 rather than pg_trgm's 0.6 also finds a name
# with a letter changed or two swapped ("jonathon", "Schmdit"). A random read costs about
# what a sequential one does on SSDs and in cache; at the default 4 the planner would
# rather walk the whole primary key for a search matching a thousand rows than read them.
# In cache a row costs more against a page than the default 0.01 says: at it, a third of
# the Chinese name prefixes of a million contacts walked the primary key past ~17,000
# rows (7 ms) rather than read their ~1,000 matches (1.8 ms); see architecture decision 50.
SEARCH_SETTINGS = {
    "pg_trgm.word_similarity_threshold": "0.5",
    "random_page_cost": "1.1",
    "cpu_tuple_cost": "0.1",
}


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

    uow, reads = units(engine), units(autocommit(engine))
    importers, queued = _importers(customer, engine)
    imports = ImportServicer(
        uow=uow,
        reads=reads,
        limits=FileLimits(customer.import_max_bytes, customer.import_max_rows),
        queued=queued,
        spool_dir=customer.import_spool_dir,
    )
    timeline = timeline_consumers(customer, nats, engine)
    sweeper = ExpirySweeper(
        uow,
        interval=customer.loyalty_sweep_seconds,
        lookback=dt.timedelta(days=customer.loyalty_sweep_lookback_days),
    )
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
        workers=[relay, *importers, *timeline, sweeper],
        closers=[nats.close, engine.dispose],
    )


def units(engine: AsyncEngine) -> Callable[[], SqlUnitOfWork]:
    """Units of work on `engine`; their events go to the outbox in the published contract."""
    return functools.partial(SqlUnitOfWork, engine, to_outbox_event, own_entries, add_own_entries)


def _importers(
    settings: CustomerSettings, engine: AsyncEngine
) -> tuple[list[BackgroundWorker], Callable[[], None]]:
    """The import workers, and what to call when a job is queued. In processes of their own
    unless `import_processes` is 0: then one runs in this process (tests)."""
    if settings.import_processes == 0:
        runner = import_runner(settings, engine)
        return [runner], runner.wake
    processes: list[BackgroundWorker] = [
        ChildProcess(run_imports, settings, name=f"{settings.service_name}-imports-{n}")
        for n in range(settings.import_processes)
    ]
    return processes, lambda: None  # they hear of new jobs by LISTEN


def import_runner(settings: CustomerSettings, engine: AsyncEngine) -> ImportRunner:
    dsn = asyncpg_dsn(settings.database_url)

    async def listen(wake: asyncio.Event) -> None:
        await Notifications(dsn, NOTIFY_CHANNEL, wake).run()

    return ImportRunner(
        units(engine),
        batch_rows=settings.import_batch_rows,
        lease_seconds=settings.import_lease_seconds,
        spool_dir=settings.import_spool_dir,
        listen=listen,
        vacuum=functools.partial(vacuum_analyze, engine),
        vacuum_after_rows=settings.import_vacuum_after_rows,
    )


def run_imports(settings: CustomerSettings) -> None:
    """An import worker process (ChildProcess): runs import jobs until SIGTERM."""
    spans = settings.otel_spans_file
    setup_telemetry(
        service_name=settings.service_name,
        log_level=settings.log_level,
        spans_file=f"{spans}.imports-{os.getpid()}" if spans else None,
    )
    collect_less()
    uvloop.run(_run_imports(settings))


async def _run_imports(settings: CustomerSettings) -> None:
    engine = create_engine(settings.database_url, pool_size=2, server_settings=SEARCH_SETTINGS)
    runner = import_runner(settings, engine)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runner.stop)
    try:
        await runner.run()
    finally:
        await engine.dispose()


def timeline_consumers(
    settings: CustomerSettings, nats: ResilientClient, engine: AsyncEngine
) -> list[EventConsumer]:
    """One durable consumer per other publishing service's stream (this service's own events
    are written where they are published). A stream not provisioned yet is waited for
    (EventConsumer.run)."""
    sessions = create_session_factory(engine)
    handler, batch_handler = timeline_handlers(SqlTimeline)
    return [
        EventConsumer(
            nats,
            sessions,
            stream=stream_name(source),
            durable=f"customer-timeline-{source}",
            subjects=stream_subjects(source),
            handlers={},
            fallback=handler,
            batch_handler=batch_handler,
            batch=TIMELINE_BATCH,
            max_deliver=settings.consumer_max_deliver,
            stream_replicas=settings.nats_stream_replicas,
        )
        for source in settings.timeline_sources
    ]
