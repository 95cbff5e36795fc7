"""`POST /api/v1/{accounts,contacts}/{id}/merge`: a duplicate merged into the record of the
path, which survives it; one handler for both kinds."""

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from starlette.responses import Response

from crm_gateway.api.deps import CurrentCaller, Customer
from crm_gateway.api.merge_schemas import MergeRequest
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import IfMatch, problems
from crm_gateway.api.routes.record_kinds import RECORD_KINDS, RecordKind
from crm_gateway.audit.changes import AuditChange, note_change

router = APIRouter(responses=problems(401, 403, 429, 503))

_DESCRIPTION = (
    "Field by field: `fields` names whose value a field keeps; any other field keeps the "
    "survivor's value, or the duplicate's where the survivor's is empty, and lists are "
    "unioned without repeats (a differing email or phone of the duplicate joins the other "
    "emails or phones; consents keep the latest per channel). The duplicate is deleted: "
    "reading it is a 404. If-Match names the survivor's version. Needs edit rights on the "
    "survivor and delete rights on the duplicate. Merging a record into itself is a 422; "
    "a record the caller cannot see, or one merged away already, a 404."
)


def _merge(kind: RecordKind) -> Callable[..., Awaitable[Response]]:
    async def merge(
        record_id: str,
        body: MergeRequest,
        request: Request,
        caller: CurrentCaller,
        customer: Customer,
        if_match: IfMatch = None,
    ) -> Response:
        expected = common.expected_version(if_match)
        common.require_plausible_id(record_id, kind.noun)
        version = await expected.one(lambda: kind.read(customer, caller.metadata, record_id))
        survivor = await customer.merge_records(
            caller.metadata, kind.entity, record_id, body.duplicate_id, body.fields, version
        )
        after = {"duplicate_id": body.duplicate_id, "fields": body.fields}
        note_change(request, AuditChange(f"{kind.noun}.merge", kind.noun, record_id, after=after))
        return common.record_response(kind.render(survivor), survivor.version)

    return merge


for _kind in RECORD_KINDS:
    router.add_api_route(
        f"{_kind.path}/{{record_id}}/merge",
        _merge(_kind),
        methods=["POST"],
        name=f"merge_{_kind.noun}",
        tags=[_kind.entity],
        response_model=_kind.schema,
        responses=problems(404, 412, 422, 428),
        summary=f"Merge a duplicate {_kind.noun} into this one",
        description=_DESCRIPTION,
    )
