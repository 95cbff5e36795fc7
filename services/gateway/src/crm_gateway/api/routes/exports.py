"""`/api/v1/exports`: the contacts or accounts of a filter or a segment as a CSV or XLSX file,
streamed from the customer service's export as it comes (neither process holds the
records; each holds one chunk). Refusals (permission, filter, segment, columns) arrive
with the export's first message, so they are answered as problems before the 200 starts.
"""

import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.responses import Response, StreamingResponse

from crm.customer.v1 import exports_pb2 as epb
from crm_gateway.api.deps import CurrentCaller, Customer
from crm_gateway.api.mapping import account_json, contact_json
from crm_gateway.api.routes.common import MAX_ID_LENGTH, problems
from crm_gateway.api.routes.record_filters import Order, SavedConditions, record_filter
from crm_gateway.api.schemas import NO_NUL, Strict
from crm_gateway.clients.customer import Record
from crm_gateway.exports import csv_file, xlsx_file
from crm_gateway.exports.cells import record_cells
from crm_platform.errors import FieldViolation, InvalidArgument

PATH = "/api/v1/exports"
MAX_COLUMNS = 50

Rows = AsyncIterator[Sequence[Sequence[str]]]
Writer = Callable[[Sequence[str], Rows], AsyncIterator[bytes]]
_FORMATS: dict[str, tuple[Writer, str]] = {
    "csv": (csv_file.csv_file, csv_file.MEDIA_TYPE),
    "xlsx": (xlsx_file.xlsx_file, xlsx_file.MEDIA_TYPE),
}
_JSON: dict[str, Callable[[Any], dict[str, Any]]] = {
    "contacts": contact_json,
    "accounts": account_json,
}
_ONLY_FOR = {"company": "contacts", "lifecycle": "accounts"}

router = APIRouter(prefix=PATH, tags=["exports"], responses=problems(401, 403, 429, 503))


class ExportRequest(Strict):
    entity: Literal["contacts", "accounts"]
    format: Literal["csv", "xlsx"] = "csv"
    filter: SavedConditions | None = Field(
        default=None, description="The list parameters of the entity; not with segment_id."
    )
    segment_id: str | None = Field(
        default=None, max_length=MAX_ID_LENGTH, pattern=NO_NUL,
        description="Export this segment's members instead; not with filter.",
    )  # fmt: skip
    columns: list[Annotated[str, Field(max_length=64, pattern=NO_NUL)]] | None = Field(
        default=None, min_length=1, max_length=MAX_COLUMNS,
        description="Field names, in order; every field you may see when absent.",
    )  # fmt: skip
    order_by: Order | None = Field(default=None, description="Newest first when absent.")


@router.post(
    "",
    response_class=StreamingResponse,
    responses={
        200: {"content": {csv_file.MEDIA_TYPE: {}, xlsx_file.MEDIA_TYPE: {}}},
        **problems(404, 422),
    },
    summary="Export contacts or accounts as CSV or XLSX",
    description="Every record of the filter (all, without one) or of the segment that the "
    "caller may read and export, streamed. One column per field, named as the field (and "
    "as the import's fields, so the file can be imported again): plain values as they are, "
    'lists joined with "; ", nested values (addresses, consents, account roles, custom '
    "fields, money, agreements) as compact JSON. CSV is UTF-8 with a BOM. A cell that "
    "could start a formula gets a leading `'`. Idempotency-Key is not honoured: an "
    "export changes nothing, and a repeat exports again.",
)
async def export_records(
    body: ExportRequest, request: Request, caller: CurrentCaller, customer: Customer
) -> Response:
    timeout = request.app.state.upload_timeout_seconds
    columns, chunks = await customer.export_records(caller.metadata, _request(body), timeout)
    write, media_type = _FORMATS[body.format]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{body.entity}-{stamp}.{body.format}"
    return StreamingResponse(
        write(columns, _rows(chunks, columns, _JSON[body.entity])),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _request(body: ExportRequest) -> epb.ExportRecordsRequest:
    if body.filter is not None and body.segment_id is not None:
        why = "give a filter or a segment, not both"
        raise InvalidArgument([FieldViolation("segment_id", why)])
    request = epb.ExportRecordsRequest(
        entity=body.entity, columns=body.columns or [], order_by=body.order_by or ""
    )
    if body.segment_id is not None:
        request.segment_id = body.segment_id
    elif body.filter is not None:
        _check_entity(body.filter, body.entity)
        request.filter.CopyFrom(record_filter(body.filter, "filter"))
    return request


def _check_entity(conditions: SavedConditions, entity: str) -> None:
    """Conditions of the other entity are refused rather than silently matching nothing."""
    wrong = [
        FieldViolation(f"filter.{name}", f"filters {only} only")
        for name, only in _ONLY_FOR.items()
        if getattr(conditions, name) and only != entity
    ]
    if wrong:
        raise InvalidArgument(wrong)


async def _rows(
    chunks: AsyncIterator[Sequence[Record]],
    columns: Sequence[str],
    to_json: Callable[[Any], dict[str, Any]],
) -> Rows:
    async for records in chunks:
        yield [record_cells(to_json(record), columns) for record in records]
