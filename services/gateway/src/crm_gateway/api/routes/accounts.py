"""`/api/v1/accounts`: companies, stored by the customer service."""

from fastapi import APIRouter
from starlette.responses import Response

from crm_gateway.api import schemas
from crm_gateway.api.deps import CurrentCaller, Customer, GatewayServices
from crm_gateway.api.mapping import account_json, contact_json, duplicates_json, present, to_account
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import Cursor, IfMatch, IfNoneMatch, Limit, problems
from crm_gateway.api.routes.record_filters import AccountFilters, ContactFilters, record_filter
from crm_gateway.api.routes.record_kinds import ACCOUNTS, handed_over

PATH = "/api/v1/accounts"

router = APIRouter(prefix=PATH, tags=["accounts"], responses=problems(401, 403, 429, 503))


@router.post(
    "",
    status_code=201,
    response_model=schemas.AccountCreated,
    responses=problems(409, 422),
    summary="Create an account",
    description="Created even when it looks like a record the caller can already see: those "
    "are listed in `likely_duplicates`, with the reasons, for the client to merge or keep.",
)
async def create_account(
    body: schemas.AccountCreate, caller: CurrentCaller, customer: Customer
) -> Response:
    values = body.model_dump(exclude_unset=True)
    created = await customer.create_account(caller.metadata, to_account(values))
    account = created.account
    body_json = {**account_json(account), "likely_duplicates": duplicates_json(created)}
    return common.record_response(body_json, account.version, 201, location=f"{PATH}/{account.id}")


@router.get(
    "", response_model=schemas.AccountPage, responses=problems(422),
    summary="List and search accounts",
    description="Only accounts the caller may see. Filters combine (all must match).",
)  # fmt: skip
async def list_accounts(
    caller: CurrentCaller,
    customer: Customer,
    filters: AccountFilters,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    found, next_token = await customer.list_accounts(
        caller.metadata, limit, cursor or "", record_filter(filters), filters.order_by or ""
    )
    return common.page_response([account_json(a) for a in found], next_token)


@router.get(
    "/{account_id}",
    response_model=schemas.Account,
    responses={304: {"description": "If-None-Match names the current version."}, **problems(404)},
    summary="Get an account",
)
async def get_account(
    account_id: str,
    caller: CurrentCaller,
    customer: Customer,
    if_none_match: IfNoneMatch = None,
) -> Response:
    common.require_plausible_id(account_id, "account")
    account = await customer.get_account(caller.metadata, account_id)
    return common.read_response(if_none_match, account.version, lambda: account_json(account))


@router.patch(
    "/{account_id}",
    response_model=schemas.Account,
    responses=problems(404, 409, 412, 422, 428),
    summary="Change an account (merge patch)",
)
async def update_account(
    account_id: str,
    body: schemas.AccountPatch,
    caller: CurrentCaller,
    customer: Customer,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    expected = common.expected_version(if_match)
    common.require_plausible_id(account_id, "account")
    version = await expected.one(lambda: customer.get_account(caller.metadata, account_id))
    values = body.model_dump(include=body.model_fields_set)
    values = await handed_over(
        ACCOUNTS, account_id, values, caller=caller, customer=customer, users=services.users
    )
    account = await customer.update_account(
        caller.metadata, to_account(values, account_id), present(values), version
    )
    return common.record_response(account_json(account), account.version)


@router.delete(
    "/{account_id}",
    status_code=204,
    responses=problems(404, 412, 428),
    summary="Delete an account",
)
async def delete_account(
    account_id: str, caller: CurrentCaller, customer: Customer, if_match: IfMatch = None
) -> Response:
    expected = common.expected_version(if_match)
    common.require_plausible_id(account_id, "account")
    version = await expected.one(lambda: customer.get_account(caller.metadata, account_id))
    await customer.delete_account(caller.metadata, account_id, version)
    return Response(status_code=204)


@router.get(
    "/{account_id}/contacts",
    response_model=schemas.ContactPage,
    responses=problems(404, 422),
    summary="List an account's contacts",
)
async def list_account_contacts(
    account_id: str,
    caller: CurrentCaller,
    customer: Customer,
    filters: ContactFilters,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    common.require_plausible_id(account_id, "account")
    # An account the caller cannot see is a 404, not an empty list that hides the reason.
    await customer.get_account(caller.metadata, account_id)
    found, next_token = await customer.list_contacts(
        caller.metadata,
        limit,
        cursor or "",
        account_id=account_id,
        wanted=record_filter(filters),
        order_by=filters.order_by or "",
    )
    return common.page_response([contact_json(c) for c in found], next_token)
