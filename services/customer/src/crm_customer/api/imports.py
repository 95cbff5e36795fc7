"""ImportService: the upload is spooled to a temporary file, chunk by chunk (memory stays
flat), then handed to the use case, which checks it and queues the job."""

import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeAlias

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from crm.customer.v1 import imports_pb2 as pb
from crm.customer.v1 import imports_pb2_grpc as pb_grpc
from crm_customer.domain.imports import ImportJob, ImportSpec
from crm_customer.usecases.imports import (
    FileLimits,
    check_spec,
    get_import,
    import_problems,
    list_imports,
    start_import,
)
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.context import current_principal
from crm_platform.errors import FieldViolation, InvalidArgument

Context: TypeAlias = grpc.aio.ServicerContext


class ImportServicer(pb_grpc.ImportServiceServicer):
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        reads: Callable[[], UnitOfWork],
        limits: FileLimits,
        queued: Callable[[], None],
        spool_dir: str | None = None,
    ) -> None:
        """`queued()` is told of every job accepted (it wakes this process's runner)."""
        self._uow = uow
        self._reads = reads
        self._limits = limits
        self._queued = queued
        self._spool_dir = spool_dir

    async def StartImport(
        self, request_iterator: AsyncIterator[pb.StartImportRequest], context: Context
    ) -> pb.StartImportResponse:
        principal = current_principal()
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "spec":
            raise InvalidArgument([FieldViolation("spec", "must come first")])
        spec = ImportSpec.parse(
            entity=first.spec.entity,
            mode=first.spec.mode,
            default_region=first.spec.default_region,
            dry_run=first.spec.dry_run,
            mapping=dict(first.spec.mapping),
            file_name=first.spec.file_name,
        )
        check_spec(principal, spec)
        with tempfile.TemporaryDirectory(dir=self._spool_dir, prefix="upload-") as spool:
            path = Path(spool) / "upload"
            await self._receive(request_iterator, path)
            job = await start_import(
                uow=self._uow(), principal=principal, spec=spec, path=path, limits=self._limits
            )
        self._queued()
        return pb.StartImportResponse(job=job_message(job))

    async def _receive(self, parts: AsyncIterator[pb.StartImportRequest], path: Path) -> None:
        size = 0
        with path.open("wb") as file:
            async for part in parts:
                size += len(part.chunk)
                if size > self._limits.max_bytes:
                    why = f"the file is larger than {self._limits.max_bytes} bytes"
                    raise InvalidArgument([FieldViolation("file", why)])
                file.write(part.chunk)

    async def GetImport(self, request: pb.GetImportRequest, context: Context) -> Any:
        job = await get_import(
            uow=self._reads(), principal=current_principal(), import_id=request.id
        )
        return pb.GetImportResponse(job=job_message(job))

    async def ListImports(self, request: pb.ListImportsRequest, context: Context) -> Any:
        jobs, token = await list_imports(
            uow=self._reads(),
            principal=current_principal(),
            page_size=request.page_size,
            page_token=request.page_token,
            status=request.status,
        )
        return pb.ListImportsResponse(jobs=[job_message(j) for j in jobs], next_page_token=token)

    async def ListImportProblems(
        self, request: pb.ListImportProblemsRequest, context: Context
    ) -> AsyncIterator[pb.ListImportProblemsResponse]:
        pages = import_problems(
            uow=self._reads(), principal=current_principal(), import_id=request.id
        )
        async for page in pages:
            yield pb.ListImportProblemsResponse(
                problems=[
                    pb.ImportProblem(line=p.line, outcome=p.outcome, reason=p.reason, cells=p.cells)
                    for p in page
                ]
            )


def job_message(job: ImportJob) -> pb.ImportJob:
    progress = job.progress
    message = pb.ImportJob(
        id=str(job.id),
        status=job.status,
        entity=job.spec.entity,
        mode=job.spec.mode,
        dry_run=job.spec.dry_run,
        file_name=job.spec.file_name,
        total=progress.total,
        processed=progress.processed,
        created=progress.created,
        updated=progress.updated,
        skipped=progress.skipped,
        failed=progress.failed,
        error=job.error,
        headers=job.headers,
        ignored_columns=job.ignored_columns,
        created_at=_timestamp(job.created_at),
    )
    if job.finished_at is not None:
        message.finished_at.CopyFrom(_timestamp(job.finished_at))
    return message


def _timestamp(value: Any) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
