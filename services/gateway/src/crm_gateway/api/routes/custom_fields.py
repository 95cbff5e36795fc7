"""`/api/v1/custom-fields/{entity}`: the admin's custom fields of contacts or accounts, and
the types their values are held to (by the customer service, on every write and import)."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from crm.customer.v1 import custom_fields_pb2 as cpb
from crm_gateway.api import schemas
from crm_gateway.api.deps import CurrentCaller, Customer
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import IfMatch, problems
from crm_gateway.clients.customer import call
from crm_platform.errors import NotFound

PATH = "/api/v1/custom-fields"

router = APIRouter(prefix=PATH, tags=["custom fields"], responses=problems(401, 403, 429, 503))

Entity = Literal["contacts", "accounts"]
Label = Annotated[str, Field(min_length=1, max_length=200, pattern=schemas.NO_NUL)]
Options = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200, pattern=schemas.NO_NUL)]],
    Field(max_length=200, description="Of a `choice`: the values it allows."),
]
MaxLength = Annotated[int, Field(ge=1, le=10_000, description="Of a `text`; 255 by default.")]
Required = Annotated[
    bool,
    Field(
        description="A new record must have a value, and so must a write of `custom_fields` "
        "(it replaces them); records stored before keep what they have until then."
    ),
]


class CustomFieldCreate(schemas.Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")]
    label: Label | None = None
    type: Literal["text", "integer", "number", "boolean", "date", "choice"]
    options: Options = []
    max_length: MaxLength | None = None
    required: Required = False


class CustomFieldPatch(schemas.Strict):
    label: Label | None = None
    options: Options | None = None
    max_length: MaxLength | None = None
    required: Required | None = None


class CustomField(BaseModel):
    entity: Entity
    name: str
    label: str
    type: str
    options: list[str]
    max_length: int | None
    required: bool
    version: int
    created_at: str
    updated_at: str


class CustomFieldList(BaseModel):
    items: list[CustomField]


@router.post(
    "/{entity}", status_code=201, response_model=CustomField, responses=problems(409, 422),
    summary="Define a custom field",
    description="Values of the field are then checked and normalized on every write and "
    "import (`\"12\"` becomes 12 for a number, a choice takes the option's spelling). "
    "Values stored before stay as they are until the record is next written.",
)  # fmt: skip
async def define_custom_field(
    entity: Entity, body: CustomFieldCreate, caller: CurrentCaller, customer: Customer
) -> Response:
    field = cpb.CustomField(
        entity=entity,
        name=body.name,
        label=body.label or "",
        type=body.type,
        options=body.options,
        max_length=body.max_length or 0,
        required=body.required,
    )
    request = cpb.DefineCustomFieldRequest(field=field)
    defined: cpb.CustomField = (
        await call(customer.custom_fields.DefineCustomField, request, caller.metadata)
    ).field
    location = f"{PATH}/{entity}/{defined.name}"
    return common.record_response(field_json(defined), defined.version, 201, location=location)


@router.get(
    "/{entity}", response_model=CustomFieldList, summary="The custom fields of contacts or accounts"
)
async def list_custom_fields(entity: Entity, caller: CurrentCaller, customer: Customer) -> Response:
    request = cpb.ListCustomFieldsRequest(entity=entity)
    reply: cpb.ListCustomFieldsResponse = await call(
        customer.custom_fields.ListCustomFields, request, caller.metadata
    )
    return common.json_response({"items": [field_json(f) for f in reply.fields]})


@router.patch(
    "/{entity}/{name}", response_model=CustomField, responses=problems(404, 412, 422, 428),
    summary="Change a custom field's label, options, length or whether it is required",
)  # fmt: skip
async def change_custom_field(
    entity: Entity,
    name: str,
    body: CustomFieldPatch,
    caller: CurrentCaller,
    customer: Customer,
    if_match: IfMatch = None,
) -> Response:
    current = await _current(customer, caller.metadata, entity, name)
    common.expected_version(if_match).check(current.version, f"custom field {name}")
    field = cpb.CustomField(
        entity=entity,
        name=name,
        label=body.label or current.label,
        options=current.options if body.options is None else body.options,
        max_length=body.max_length or 0,
        required=current.required if body.required is None else body.required,
    )
    request = cpb.ChangeCustomFieldRequest(field=field, expected_version=current.version)
    changed: cpb.CustomField = (
        await call(customer.custom_fields.ChangeCustomField, request, caller.metadata)
    ).field
    return common.record_response(field_json(changed), changed.version)


@router.delete(
    "/{entity}/{name}", status_code=204, responses=problems(404, 412, 428),
    summary="Remove a custom field",
    description="Its values stay on the records, no longer checked.",
)  # fmt: skip
async def remove_custom_field(
    entity: Entity, name: str, caller: CurrentCaller, customer: Customer, if_match: IfMatch = None
) -> Response:
    expected = common.expected_version(if_match)
    version = await expected.one(lambda: _current(customer, caller.metadata, entity, name))
    request = cpb.RemoveCustomFieldRequest(entity=entity, name=name, expected_version=version)
    await call(customer.custom_fields.RemoveCustomField, request, caller.metadata)
    return Response(status_code=204)


async def _current(customer: Customer, metadata: Any, entity: str, name: str) -> cpb.CustomField:
    request = cpb.ListCustomFieldsRequest(entity=entity)
    reply: cpb.ListCustomFieldsResponse = await call(
        customer.custom_fields.ListCustomFields, request, metadata
    )
    for field in reply.fields:
        if field.name == name:
            return field
    raise NotFound(f"{entity} have no custom field {name!r}")


def field_json(field: cpb.CustomField) -> dict[str, Any]:
    return {
        "entity": field.entity,
        "name": field.name,
        "label": field.label,
        "type": field.type,
        "options": list(field.options),
        "max_length": field.max_length if field.type == "text" else None,
        "required": field.required,
        "version": field.version,
        "created_at": field.created_at.ToJsonString(),
        "updated_at": field.updated_at.ToJsonString(),
    }
