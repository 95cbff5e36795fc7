"""The background worker that runs import jobs, one at a time per process, any number of
processes: a job is claimed with a lease renewed by every batch, so the job of a worker
that died is taken over, and resumes after the last batch it committed.

Each batch — its records, their field history and outbox events, its problem rows and the
job's counters — commits in one transaction: a batch is applied entirely or not at all,
and a resumed job neither repeats nor skips a row. A dry run applies every batch in one
transaction it rolls back at the end (its counters and problems commit on their own), so
it decides exactly as the real run would, duplicates between batches included.

An import that wrote many records then has its table vacuumed and analyzed (`vacuum`):
searches right after a migration plan with statistics that know the new rows and read
pages whose rows' visibility is already settled, instead of waiting for autovacuum."""

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from crm_customer.domain.imports import ImportJob, Progress, Status
from crm_customer.imports import (
    ColumnMap,
    ImportFileError,
    RawRow,
    map_headers,
    normalize_row,
    open_rows,
)
from crm_customer.imports.rows import ParsedRow
from crm_customer.usecases.import_batch import (
    BatchResult,
    InFlight,
    apply_batch,
    decide_batch,
    may_decide_while_writing,
    store_batch,
)
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.principal import Principal, from_claims
from crm_platform.ids import uuid7

log = logging.getLogger(__name__)

Rows = list[tuple[RawRow, ParsedRow]]
# Attempts at one job in a row that end in an unexpected error before it is failed.
MAX_ATTEMPTS = 5


class LeaseLost(Exception):
    """Another worker holds the job now (ours ran out): we stop without writing."""


class ImportRunner:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        *,
        batch_rows: int,
        lease_seconds: float,
        spool_dir: str | None = None,
        poll_seconds: float = 1.0,
        listen: Callable[[asyncio.Event], Coroutine[Any, Any, None]] | None = None,
        vacuum: Callable[[str], Awaitable[None]],
        vacuum_after_rows: int,
    ) -> None:
        """`listen(wake)` sets `wake` when another process queues a job (LISTEN);
        `vacuum(entity)` upkeeps the table of a job that wrote `vacuum_after_rows` records."""
        self._uow = uow
        self._batch_rows = batch_rows
        self._lease = dt.timedelta(seconds=lease_seconds)
        self._spool_dir = spool_dir
        self._poll_seconds = poll_seconds
        self._listen = listen
        self._vacuum = vacuum
        self._vacuum_after_rows = vacuum_after_rows
        self._holder = uuid7()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._attempts: dict[uuid.UUID, int] = {}

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(self._wake)) if self._listen else None
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                if not await self.run_one():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def run_one(self) -> bool:
        """Run the next job there is to run; whether there was one."""
        try:
            async with self._uow() as uow:
                job = await uow.imports.claim(self._holder, self._lease)
                await uow.commit()
        except Exception:
            log.warning("could not look for import jobs", exc_info=True)
            await asyncio.sleep(self._poll_seconds)
            return False
        if job is None:
            return False
        try:
            await self._run(job)
            self._attempts.pop(job.id, None)
        except LeaseLost:
            log.warning("import %s: lease lost, left to its new worker", job.id)
        except Exception as error:
            await self._failed_attempt(job, error)
        return True

    async def _run(self, job: ImportJob) -> None:
        principal = from_claims(job.principal)
        with tempfile.TemporaryDirectory(dir=self._spool_dir, prefix="import-") as spool:
            path = Path(spool) / "upload"
            await self._restore(job, path)
            try:
                with open_rows(path) as source:
                    columns = map_headers(source.headers, job.spec.entity, job.spec.mapping)
                    rows = iter(source)
                    if job.spec.dry_run:
                        await self._dry_run(job, principal, rows, columns)
                    else:
                        await self._import(job, principal, rows, columns)
            except ImportFileError as error:  # checked at upload: only if the file rotted
                await self._finish(job, Status.FAILED, str(error))
                return
        await self._finish(job, Status.SUCCEEDED)
        await self._upkeep(job)

    async def _upkeep(self, job: ImportJob) -> None:
        written = job.progress.created + job.progress.updated
        if job.spec.dry_run or written < self._vacuum_after_rows:
            return
        try:
            await self._vacuum(job.spec.entity)
        except Exception:  # the import stands; autovacuum will come round
            log.warning("import %s: could not vacuum %s", job.id, job.spec.entity, exc_info=True)

    async def _import(
        self, job: ImportJob, principal: Principal, rows: Iterator[RawRow], columns: ColumnMap
    ) -> None:
        """Batch after batch, each deciding while the one before is being written (its
        reads see that batch as written: `InFlight`) and writing once it is committed. A
        batch whose predecessor failed to commit writes nothing: the job resumes there."""
        progress = job.progress
        rows = itertools.islice(rows, progress.processed, None)  # committed before a restart
        overlap = may_decide_while_writing(job.spec)
        writing: asyncio.Future[None] | None = None
        in_flight = InFlight()
        try:
            async for batch in self._batches(rows, columns, job.spec.default_region):
                async with AsyncExitStack() as unit:
                    uow = await unit.enter_async_context(self._uow())
                    result = await decide_batch(
                        uow=uow, principal=principal, spec=job.spec, rows=batch, in_flight=in_flight
                    )
                    for event in result.events:
                        uow.record(event, actor_id=principal.subject_id)
                    if writing is not None:
                        await writing  # the batch before is committed, or this one is void
                    write = self._write(uow, job, progress, result)
                    writing = asyncio.ensure_future(_closing(unit.pop_all(), write))
                if overlap:
                    in_flight = result.in_flight(job.spec.entity)
                else:
                    await writing
            if writing is not None:
                await writing
        except BaseException:
            if writing is not None and not writing.done():
                with contextlib.suppress(Exception):  # the error that stopped us is the news
                    await writing
            raise

    async def _write(
        self, uow: UnitOfWork, job: ImportJob, progress: Progress, result: BatchResult
    ) -> None:
        await store_batch(uow=uow, spec=job.spec, result=result)
        await self._save(uow, job, progress, result)
        await uow.commit()

    async def _dry_run(
        self, job: ImportJob, principal: Principal, rows: Iterator[RawRow], columns: ColumnMap
    ) -> None:
        progress = Progress(total=job.progress.total)  # a dry run starts over
        restart = True
        async with self._uow() as work:  # never committed
            async for batch in self._batches(rows, columns, job.spec.default_region):
                result = await apply_batch(uow=work, principal=principal, spec=job.spec, rows=batch)
                async with self._uow() as uow:
                    await self._save(uow, job, progress, result, restart=restart)
                    await uow.commit()
                restart = False

    async def _save(
        self,
        uow: UnitOfWork,
        job: ImportJob,
        progress: Progress,
        result: BatchResult,
        *,
        restart: bool = False,
    ) -> None:
        progress.add(result.progress)
        saved = await uow.imports.save_progress(
            job.id, self._holder, progress, self._lease, restart=restart
        )
        if not saved:
            raise LeaseLost
        await uow.imports.add_problems(job.id, result.problems)

    async def _batches(
        self, rows: Iterator[RawRow], columns: ColumnMap, region: str | None
    ) -> AsyncIterator[Rows]:
        """Batches of normalized rows; the next one is read and normalized in a thread
        while the current one is written."""

        def read() -> Rows:
            return [
                (raw, normalize_row(raw, columns, default_region=region))
                for raw in itertools.islice(rows, self._batch_rows)
            ]

        upcoming = asyncio.ensure_future(asyncio.to_thread(read))
        while batch := await upcoming:
            upcoming = asyncio.ensure_future(asyncio.to_thread(read))
            yield batch

    async def _restore(self, job: ImportJob, path: Path) -> None:
        async with self._uow() as uow:
            with path.open("wb") as file:
                async for chunk in uow.imports.chunks(job.id):
                    file.write(chunk)

    async def _finish(self, job: ImportJob, status: Status, error: str = "") -> None:
        async with self._uow() as uow:
            if not await uow.imports.finish(job.id, self._holder, status, error):
                raise LeaseLost
            await uow.commit()
        log.info("import %s %s", job.id, status.value)

    async def _failed_attempt(self, job: ImportJob, error: Exception) -> None:
        """Retried (by whoever claims the job once its lease runs out) a few times, then
        failed: what keeps failing is a bug, and the uploader is owed an answer."""
        attempts = self._attempts[job.id] = self._attempts.get(job.id, 0) + 1
        log.error("import %s: attempt %d failed", job.id, attempts, exc_info=error)
        if attempts < MAX_ATTEMPTS:
            await self._release(job, dt.timedelta(seconds=2**attempts))
            return
        self._attempts.pop(job.id, None)
        with contextlib.suppress(Exception):
            await self._finish(job, Status.FAILED, "the import stopped on an internal error")

    async def _release(self, job: ImportJob, pause: dt.timedelta) -> None:
        with contextlib.suppress(Exception):
            async with self._uow() as uow:
                await uow.imports.release(job.id, self._holder, pause)
                await uow.commit()


async def _closing(unit: AsyncExitStack, work: Awaitable[None]) -> None:
    async with unit:
        await work
