"""`GET /api/v1/{accounts,contacts}/{id}/history`: who changed which field, when, old and
new; one handler for both kinds."""

import json
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from starlette.responses import Response

from crm.customer.v1 import merge_pb2 as mpb
from crm_gateway.api.deps import CurrentCaller, Customer
from crm_gateway.api.mapping import JsonObject
from crm_gateway.api.merge_schemas import HistoryPage
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import Cursor, Limit, problems
from crm_gateway.api.routes.record_kinds import RECORD_KINDS, RecordKind

router = APIRouter(responses=problems(401, 403, 429, 503))


def _history(kind: RecordKind) -> Callable[..., Awaitable[Response]]:
    async def history(
        record_id: str,
        caller: CurrentCaller,
        customer: Customer,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response:
        common.require_plausible_id(record_id, kind.noun)
        changes, next_token = await customer.record_history(
            caller.metadata, kind.entity, record_id, limit, cursor or ""
        )
        return common.page_response([change_json(c) for c in changes], next_token)

    return history


def change_json(change: mpb.RecordChange) -> JsonObject:
    return {
        "field": change.field,
        "old": json.loads(change.old_value) if change.old_value else None,
        "new": json.loads(change.new_value) if change.new_value else None,
        "actor_id": change.actor_id,
        "changed_at": change.changed_at.ToJsonString(),
    }


for _kind in RECORD_KINDS:
    router.add_api_route(
        f"{_kind.path}/{{record_id}}/history",
        _history(_kind),
        methods=["GET"],
        name=f"list_{_kind.noun}_history",
        tags=[_kind.entity],
        response_model=HistoryPage,
        responses=problems(404, 422),
        summary=f"The field history of a {_kind.noun}",
        description="Newest change first. Needs read rights on the record (404 otherwise); "
        "partners never see changes of internal fields.",
    )
