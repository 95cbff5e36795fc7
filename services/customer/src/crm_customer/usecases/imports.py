"""Starting an import and following it: the file is checked as a whole before the job is
accepted, so a job only ever fails for reasons outside the file; the rows are imported by
the ImportRunner (usecases/import_runner.py)."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from crm_customer.domain.imports import ImportJob, ImportSpec, Problem, Progress, Status
from crm_customer.imports import ImportFileError, check_region, map_headers, open_rows
from crm_customer.usecases.kinds import read_scopes
from crm_customer.usecases.pages import decode_id_token, id_page, page_limit
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.principal import Action, Principal, to_claims
from crm_platform.errors import FieldViolation, InvalidArgument, NotFound
from crm_platform.ids import parse_uuid, uuid7

CHUNK_BYTES = 1 << 20
PROBLEMS_PER_MESSAGE = 500


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int
    max_rows: int


@dataclass(frozen=True)
class CheckedFile:
    total: int
    headers: tuple[str, ...]
    ignored_columns: tuple[str, ...]


def check_spec(principal: Principal, spec: ImportSpec) -> None:
    """What can be refused before the file arrives: rights, region, mapping's shape."""
    principal.require(spec.obj, Action.CREATE)
    if spec.mode != "create":
        principal.require(spec.obj, Action.EDIT)
    try:
        check_region(spec.default_region)
    except ImportFileError as error:
        raise InvalidArgument([FieldViolation("default_region", str(error))]) from None


async def check_file(path: Path, spec: ImportSpec, limits: FileLimits) -> CheckedFile:
    """The file read through once (off the event loop): every way it can be unusable as a
    whole is found now, and its rows counted."""
    try:
        return await asyncio.to_thread(_read_through, path, spec, limits)
    except ImportFileError as error:
        raise InvalidArgument([FieldViolation(error.field, error.message)]) from None


def _read_through(path: Path, spec: ImportSpec, limits: FileLimits) -> CheckedFile:
    if path.stat().st_size > limits.max_bytes:
        raise ImportFileError(f"the file is larger than {limits.max_bytes} bytes")
    max_rows = limits.max_rows
    with open_rows(path, max_rows=max_rows) as source:
        columns = map_headers(source.headers, spec.entity, spec.mapping)
        total = sum(1 for _ in source)
    return CheckedFile(total, tuple(source.headers), columns.ignored)


async def start_import(
    *, uow: UnitOfWork, principal: Principal, spec: ImportSpec, path: Path, limits: FileLimits
) -> ImportJob:
    """The job, queued, with its file stored beside it: accepted means never lost."""
    check_spec(principal, spec)
    checked = await check_file(path, spec, limits)
    job = ImportJob(
        id=uuid7(),
        spec=spec,
        status=Status.QUEUED,
        owner_id=principal.subject_id,
        team_id=principal.team_id,
        partner_id=principal.partner_id,
        principal=to_claims(principal),
        created_at=dt.datetime.now(dt.UTC),
        progress=Progress(total=checked.total),
        headers=checked.headers,
        ignored_columns=checked.ignored_columns,
    )
    async with uow:
        await uow.imports.add(job)
        with path.open("rb") as file:
            for seq, chunk in enumerate(iter(lambda: file.read(CHUNK_BYTES), b"")):
                await uow.imports.add_chunk(job.id, seq, chunk)
        await uow.commit()
    return job


async def get_import(*, uow: UnitOfWork, principal: Principal, import_id: str) -> ImportJob:
    async with uow:
        return await _visible(uow, principal, import_id)


async def list_imports(
    *, uow: UnitOfWork, principal: Principal, page_size: int, page_token: str, status: str
) -> tuple[list[ImportJob], str]:
    """The imports the caller can see, newest first, and the next page's token."""
    limit = page_limit(page_size)
    after = decode_id_token(page_token)
    async with uow:
        found = await uow.imports.page(
            principal=principal,
            scopes=read_scopes(principal),
            status=_status(status),
            after=after,
            limit=limit + 1,
        )
    return id_page(found, limit)


def _status(text: str) -> Status | None:
    if not text:
        return None
    try:
        return Status(text)
    except ValueError:
        why = f"must be one of {', '.join(s.value for s in Status)}"
        raise InvalidArgument([FieldViolation("status", why)]) from None


async def import_problems(
    *, uow: UnitOfWork, principal: Principal, import_id: str
) -> AsyncIterator[list[Problem]]:
    """The rows not imported, in file order, a page at a time."""
    async with uow:
        job = await _visible(uow, principal, import_id)
        async for problems in uow.imports.problems(job.id, PROBLEMS_PER_MESSAGE):
            yield problems


async def _visible(uow: UnitOfWork, principal: Principal, import_id: str) -> ImportJob:
    """Jobs are seen as the records they import: the starter's, their team's, or all."""
    parsed = parse_uuid(import_id)
    job = None
    if parsed is not None:
        job = await uow.imports.get(parsed, principal=principal, scopes=read_scopes(principal))
    if job is None:
        raise NotFound(f"import {import_id} not found")
    return job
