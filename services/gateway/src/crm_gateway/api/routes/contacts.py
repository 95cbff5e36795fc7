"""`/api/v1/contacts`: people, optionally at an account, stored by the customer service."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from crm_gateway.api import schemas
from crm_gateway.api.deps import CurrentCaller, Customer, GatewayServices
from crm_gateway.api.mapping import contact_json, duplicates_json, present, to_contact
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import Cursor, IfMatch, IfNoneMatch, Limit, problems
from crm_gateway.api.routes.record_filters import ContactFilters, record_filter
from crm_gateway.api.routes.record_kinds import CONTACTS, handed_over

PATH = "/api/v1/contacts"

router = APIRouter(prefix=PATH, tags=["contacts"], responses=problems(401, 403, 429, 503))

AccountFilter = Annotated[
    str | None,
    Query(
        max_length=common.MAX_ID_LENGTH,
        pattern=schemas.NO_NUL,
        description="Only contacts of this account (theirs, or one they hold a role at).",
    ),
]


@router.post(
    "",
    status_code=201,
    response_model=schemas.ContactCreated,
    responses=problems(409, 422),
    summary="Create a contact",
    description="Created even when it looks like a record the caller can already see: those "
    "are listed in `likely_duplicates`, with the reasons, for the client to merge or keep.",
)
async def create_contact(
    body: schemas.ContactCreate, caller: CurrentCaller, customer: Customer
) -> Response:
    values = body.model_dump(exclude_unset=True)
    created = await customer.create_contact(caller.metadata, to_contact(values))
    contact = created.contact
    body_json = {**contact_json(contact), "likely_duplicates": duplicates_json(created)}
    return common.record_response(body_json, contact.version, 201, location=f"{PATH}/{contact.id}")


@router.get(
    "", response_model=schemas.ContactPage, responses=problems(422),
    summary="List and search contacts",
    description="Only contacts the caller may see. Filters combine (all must match).",
)  # fmt: skip
async def list_contacts(
    caller: CurrentCaller,
    customer: Customer,
    filters: ContactFilters,
    limit: Limit = 50,
    cursor: Cursor = None,
    account_id: AccountFilter = None,
) -> Response:
    found, next_token = await customer.list_contacts(
        caller.metadata,
        limit,
        cursor or "",
        account_id=account_id or "",
        wanted=record_filter(filters),
        order_by=filters.order_by or "",
    )
    return common.page_response([contact_json(c) for c in found], next_token)


@router.get(
    "/{contact_id}",
    response_model=schemas.Contact,
    responses={304: {"description": "If-None-Match names the current version."}, **problems(404)},
    summary="Get a contact",
)
async def get_contact(
    contact_id: str,
    caller: CurrentCaller,
    customer: Customer,
    if_none_match: IfNoneMatch = None,
) -> Response:
    common.require_plausible_id(contact_id, "contact")
    contact = await customer.get_contact(caller.metadata, contact_id)
    return common.read_response(if_none_match, contact.version, lambda: contact_json(contact))


@router.patch(
    "/{contact_id}",
    response_model=schemas.Contact,
    responses=problems(404, 409, 412, 422, 428),
    summary="Change a contact (merge patch)",
)
async def update_contact(
    contact_id: str,
    body: schemas.ContactPatch,
    caller: CurrentCaller,
    customer: Customer,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    expected = common.expected_version(if_match)
    common.require_plausible_id(contact_id, "contact")
    version = await expected.one(lambda: customer.get_contact(caller.metadata, contact_id))
    values = body.model_dump(include=body.model_fields_set)
    values = await handed_over(
        CONTACTS, contact_id, values, caller=caller, customer=customer, users=services.users
    )
    contact = await customer.update_contact(
        caller.metadata, to_contact(values, contact_id), present(values), version
    )
    return common.record_response(contact_json(contact), contact.version)


@router.delete(
    "/{contact_id}",
    status_code=204,
    responses=problems(404, 412, 428),
    summary="Delete a contact",
)
async def delete_contact(
    contact_id: str, caller: CurrentCaller, customer: Customer, if_match: IfMatch = None
) -> Response:
    expected = common.expected_version(if_match)
    common.require_plausible_id(contact_id, "contact")
    version = await expected.one(lambda: customer.get_contact(caller.metadata, contact_id))
    await customer.delete_contact(caller.metadata, contact_id, version)
    return Response(status_code=204)
