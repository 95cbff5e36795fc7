"""`/api/v1/imports`: contacts or accounts from a CSV or XLSX file, imported in the background
by the customer service. The upload is spooled to disk by the form parser and streamed on in
chunks, so neither process holds the file in memory."""

import json
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from starlette.responses import Response, StreamingResponse

from crm.customer.v1 import imports_pb2 as ipb
from crm_gateway.api import schemas
from crm_gateway.api.deps import CurrentCaller, Customer
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import problems
from crm_gateway.exports.cells import guarded
from crm_gateway.exports.csv_file import MEDIA_TYPE, csv_file
from crm_platform.errors import FieldViolation, InvalidArgument

PATH = "/api/v1/imports"
CHUNK_BYTES = 1 << 20
MAPPING_MAX_CHARS = 20_000

router = APIRouter(prefix=PATH, tags=["imports"], responses=problems(401, 403, 429, 503))


@router.post(
    "",
    status_code=202,
    response_model=schemas.ImportJob,
    responses=problems(413, 422),
    summary="Import contacts or accounts from a file",
    description="Multipart form. The file is checked as a whole before it is accepted (a "
    "file that is not CSV or XLSX, not UTF-8, without a header or rows is a 422); its rows "
    "are then imported in the background: follow `GET /api/v1/imports/{id}`. Headers in "
    "English or Chinese (姓名, 电话, 邮箱, 公司, ...) are recognised; `mapping` names "
    'the field of any other column (or "" to leave it out). A row repeating an earlier '
    "row or a visible record (same email or phone; accounts: same name or phone) is "
    "skipped (`create`, `skip_duplicates`, which also skips likely duplicates by similar "
    "name) or merged into it (`upsert`).",
)
async def start_import(
    request: Request,
    caller: CurrentCaller,
    customer: Customer,
    file: Annotated[UploadFile, File(description="CSV (UTF-8, with or without BOM) or XLSX.")],
    entity: Annotated[Literal["contacts", "accounts"], Form()],
    mode: Annotated[Literal["create", "upsert", "skip_duplicates"], Form()] = "create",
    mapping: Annotated[
        str | None,
        Form(max_length=MAPPING_MAX_CHARS, description='JSON: {"column header": "field"}'),
    ] = None,
    default_region: Annotated[
        str | None,
        Form(pattern=r"^[A-Za-z]{2}$", description="For phones without country code: CN."),
    ] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> Response:
    spec = ipb.ImportSpec(
        entity=entity,
        mode=mode,
        default_region=default_region or "",
        dry_run=dry_run,
        mapping=_mapping(mapping),
        file_name=(file.filename or "")[:255],
    )
    timeout = request.app.state.upload_timeout_seconds
    job = await customer.start_import(caller.metadata, spec, _chunks(file), timeout)
    return common.json_response(_job_json(job), 202, {"Location": f"{PATH}/{job.id}"})


@router.get(
    "",
    response_model=schemas.ImportPage,
    responses=problems(422),
    summary="List imports",
    description="The imports the caller can see (as the records they import: their own, "
    "their teams' or all), newest first.",
)
async def list_imports(
    caller: CurrentCaller,
    customer: Customer,
    status: Annotated[
        Literal["queued", "running", "succeeded", "failed"] | None,
        Query(description="Only imports in this status."),
    ] = None,
    limit: common.Limit = 50,
    cursor: common.Cursor = None,
) -> Response:
    jobs, token = await customer.list_imports(caller.metadata, limit, cursor or "", status or "")
    return common.page_response([_job_json(job) for job in jobs], token)


@router.get(
    "/{import_id}",
    response_model=schemas.ImportJob,
    responses=problems(404),
    summary="Follow an import",
)
async def get_import(import_id: str, caller: CurrentCaller, customer: Customer) -> Response:
    common.require_plausible_id(import_id, "import")
    return common.json_response(_job_json(await customer.get_import(caller.metadata, import_id)))


@router.get(
    "/{import_id}/errors",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **problems(404)},
    summary="The rows an import left out, as CSV",
    description="One line per row not imported: its line in the file, `failed` or "
    "`skipped`, the reason, then the row as uploaded (so it can be fixed and imported "
    "again). UTF-8 with a BOM, which spreadsheet programs need to read it as UTF-8.",
)
async def import_errors(import_id: str, caller: CurrentCaller, customer: Customer) -> Response:
    common.require_plausible_id(import_id, "import")
    job = await customer.get_import(caller.metadata, import_id)  # 404 before streaming
    pages = customer.import_problems(caller.metadata, import_id)
    name = f"import-{job.id}-errors.csv"
    header = ["line", "outcome", "reason", *map(guarded, job.headers)]
    return StreamingResponse(
        csv_file(header, _problem_rows(pages)),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _mapping(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        mapping = json.loads(raw)
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        why = 'must be a JSON object of column header to field name, e.g. {"Mobil": "phone"}'
        raise InvalidArgument([FieldViolation("mapping", why)])
    return mapping


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(CHUNK_BYTES):
        yield chunk


async def _problem_rows(
    pages: AsyncIterator[Sequence[ipb.ImportProblem]],
) -> AsyncIterator[list[list[str]]]:
    """The uploader's cells guarded as an export's are: whoever opens the file in a
    spreadsheet (not always the uploader) must not run a formula a row carried in."""
    async for page in pages:
        yield [[str(p.line), p.outcome, guarded(p.reason), *map(guarded, p.cells)] for p in page]


def _job_json(job: ipb.ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "entity": job.entity,
        "mode": job.mode,
        "dry_run": job.dry_run,
        "file_name": job.file_name,
        "total": job.total,
        "processed": job.processed,
        "created": job.created,
        "updated": job.updated,
        "skipped": job.skipped,
        "failed": job.failed,
        "error": job.error or None,
        "ignored_columns": list(job.ignored_columns),
        "created_at": job.created_at.ToJsonString(),
        "finished_at": job.finished_at.ToJsonString() if job.HasField("finished_at") else None,
    }
