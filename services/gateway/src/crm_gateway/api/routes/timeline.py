"""`/api/v1/accounts/{id}/timeline`: the 360° timeline the customer service keeps of what
every service published about an account."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from crm_gateway.api import timeline_schemas
from crm_gateway.api.deps import CurrentCaller, Customer
from crm_gateway.api.mapping import timeline_entry_json
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import Cursor, Limit, problems
from crm_platform.errors import FieldViolation, InvalidArgument

router = APIRouter(
    prefix="/api/v1/accounts", tags=["accounts"], responses=problems(401, 403, 429, 503)
)

_PARAMETERS = {"page_token": "cursor", "page_size": "limit", "kinds": "kind"}

Kinds = Annotated[
    list[str] | None,
    Query(
        max_length=20,
        description="Only these kinds: repeat the parameter or separate them with commas "
        "(`kind=opportunity,ticket`).",
    ),
]


@router.get(
    "/{account_id}/timeline",
    response_model=timeline_schemas.TimelinePage,
    responses=problems(404, 422),
    summary="The account's 360° timeline",
    description="What the services published about the account (opportunities, activities, "
    "quotes, tickets, campaign responses, ERP orders and invoices, its contacts), newest "
    "first. Whoever may see the account sees its timeline; partners see no ERP documents "
    "and no internal fields. Entries arrive a moment after the events are published.",
)
async def get_account_timeline(
    account_id: str,
    caller: CurrentCaller,
    customer: Customer,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: Kinds = None,
) -> Response:
    common.require_plausible_id(account_id, "account")
    kinds = [name.strip() for value in kind or () for name in value.split(",") if name.strip()]
    try:
        found, next_token = await customer.list_timeline(
            caller.metadata, account_id, limit, cursor or "", kinds
        )
    except InvalidArgument as error:
        # Named as the caller sent them, not as the service's request calls them.
        raise InvalidArgument(
            [
                FieldViolation(_PARAMETERS.get(v.field, v.field), v.description)
                for v in error.violations
            ]
        ) from error
    return common.page_response([timeline_entry_json(e) for e in found], next_token)
