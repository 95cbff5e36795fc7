"""`/api/v1/{accounts,contacts}/{id}/loyalty-entries` and `.../loyalty`: the loyalty points
ledger of a record, kept by the customer service. One set of routes, made once per kind."""

from fastapi import APIRouter
from starlette.responses import Response

from crm.customer.v1 import loyalty_pb2 as lpb
from crm_gateway.api import loyalty_schemas as schemas
from crm_gateway.api.deps import CurrentCaller, Customer
from crm_gateway.api.mapping import loyalty_balance_json, loyalty_entry_json
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import Cursor, Limit, problems

router = APIRouter(tags=["loyalty"], responses=problems(401, 403, 429, 503))


def _add_request(
    record_type: str, record_id: str, body: schemas.LoyaltyEntryCreate
) -> lpb.AddLoyaltyEntryRequest:
    request = lpb.AddLoyaltyEntryRequest(
        record_type=record_type,
        record_id=record_id,
        kind=body.kind,
        points=body.points,
        reason=body.reason,
        reference=body.reference or "",
    )
    if body.expires_at is not None:
        request.expires_at.FromDatetime(body.expires_at)
    return request


def _routes(plural: str, record_type: str, noun: str) -> None:
    """The ledger routes of one kind of record (`accounts` holding `account`s, `noun` as
    summaries name one)."""
    base = f"/api/v1/{plural}/{{record_id}}"

    async def add_entry(
        record_id: str, body: schemas.LoyaltyEntryCreate, caller: CurrentCaller, customer: Customer
    ) -> Response:
        common.require_plausible_id(record_id, record_type)
        request = _add_request(record_type, record_id, body)
        added = await customer.add_loyalty_entry(caller.metadata, request)
        reply = {"entry": loyalty_entry_json(added.entry), "balance": added.balance}
        return common.json_response(reply, 201 if added.created else 200)

    async def list_entries(
        record_id: str,
        caller: CurrentCaller,
        customer: Customer,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Response:
        common.require_plausible_id(record_id, record_type)
        found, next_token = await customer.list_loyalty_entries(
            caller.metadata, record_type, record_id, limit, cursor or ""
        )
        return common.page_response([loyalty_entry_json(e) for e in found], next_token)

    async def get_balance(record_id: str, caller: CurrentCaller, customer: Customer) -> Response:
        common.require_plausible_id(record_id, record_type)
        found = await customer.loyalty_balance(caller.metadata, record_type, record_id)
        return common.json_response(loyalty_balance_json(found))

    router.add_api_route(
        f"{base}/loyalty-entries",
        add_entry,
        methods=["POST"],
        name=f"add_{record_type}_loyalty_entry",
        status_code=201,
        response_model=schemas.LoyaltyEntryAdded,
        responses={
            200: {
                "model": schemas.LoyaltyEntryAdded,
                "description": "An entry of this kind and reference was there already.",
            },
            **problems(404, 409, 422),
        },
        summary=f"Earn or redeem loyalty points of {noun}",
        description="Needs edit access to the record. A redeem the balance does not cover is "
        'a 409 ("balance is N, cannot redeem M") and writes nothing. Due points are expired '
        "first.",
    )
    router.add_api_route(
        f"{base}/loyalty-entries",
        list_entries,
        methods=["GET"],
        name=f"list_{record_type}_loyalty_entries",
        response_model=schemas.LoyaltyPage,
        responses=problems(404, 422),
        summary=f"List the loyalty ledger of {noun}",
        description="Newest entry first; needs read access to the record.",
    )
    router.add_api_route(
        f"{base}/loyalty",
        get_balance,
        methods=["GET"],
        name=f"get_{record_type}_loyalty_balance",
        response_model=schemas.LoyaltyBalance,
        responses=problems(404),
        summary=f"Get the loyalty balance of {noun}",
        description="The balance once due points are expired, and the points expiring next.",
    )


_routes("accounts", "account", "an account")
_routes("contacts", "contact", "a contact")
