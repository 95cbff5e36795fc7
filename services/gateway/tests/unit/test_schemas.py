"""Request bodies forbid unknown fields and bound their sizes, as query strings do their
parameters; merge patches know which fields were sent."""

from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from crm_gateway.api import schemas
from crm_gateway.api.app import ROUTE_MODULES, create_app
from crm_gateway.api.known_query import query_params
from crm_gateway.api.mapping import present, to_account, to_contact
from crm_gateway.api.schemas import AccountCreate, AccountPatch, ContactCreate, ContactPatch


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        AccountCreate.model_validate({"name": "Acme", "owner_id": "me"})
    assert caught.value.errors()[0]["loc"] == ("owner_id",)
    with pytest.raises(ValidationError):
        ContactCreate.model_validate({"first_name": "A", "nickname": "B"})


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 201},
        {"name": "Acme", "tags": ["t"] * 51},
        {"name": "Acme", "tags": ["x" * 51]},
        {"name": "Acme", "parent_id": "x" * 65},
    ],
)
def test_sizes_are_bounded(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AccountCreate.model_validate(body)


def test_a_patch_changes_only_the_fields_sent_and_null_clears() -> None:
    patch = AccountPatch.model_validate({"industry": "Retail", "parent_id": None})
    assert present(patch.model_fields_set) == ["industry", "parent_id"]
    message = to_account(patch.model_dump(include=patch.model_fields_set), "id-1")
    assert (message.id, message.industry, message.parent_id, message.name) == (
        "id-1", "Retail", "", ""
    )  # fmt: skip


def test_null_tags_clear_the_list() -> None:
    patch = AccountPatch.model_validate({"tags": None})
    assert list(to_account(patch.model_dump(include=patch.model_fields_set)).tags) == []


@pytest.mark.parametrize("model", [AccountCreate, AccountPatch])
def test_null_of_a_field_of_any_type_is_its_empty_value(model: type[BaseModel]) -> None:
    """On a create null is as good as not sent; in a patch it clears the field."""
    cleared = {"employees", "credit_limit", "custom_fields", "agreements", "internal_notes"}
    sent = model.model_validate({"name": "Acme", **dict.fromkeys(cleared)})
    message = to_account(sent.model_dump(include=sent.model_fields_set))
    assert (message.name, message.employees, message.internal_notes) == ("Acme", 0, "")
    assert not message.HasField("credit_limit")
    assert not message.HasField("custom_fields")
    assert list(message.agreements) == []


def test_null_of_every_record_field_maps_to_a_message() -> None:
    for model, to_message in ((AccountPatch, to_account), (ContactPatch, to_contact)):
        fields = model.model_fields.keys()
        to_message(model.model_validate(dict.fromkeys(fields)).model_dump())


@pytest.mark.parametrize(
    "model",
    [
        schemas.AccountCreate,
        schemas.AccountPatch,
        schemas.Account,
        schemas.AccountPage,
        schemas.ContactCreate,
        schemas.ContactPatch,
        schemas.Contact,
        schemas.ContactPage,
    ],
)
def test_the_documented_examples_are_valid(model: type[BaseModel]) -> None:
    documented = create_app().openapi()["components"]["schemas"]
    examples = documented[model.__name__]["examples"]
    assert examples
    for example in examples:
        model.model_validate(example)


@pytest.mark.parametrize(
    "body",
    [{"name": "a\x00b"}, {"name": "A", "tags": ["\x00"]}, {"name": "A", "parent_id": "\x00"}],
)
def test_nul_characters_are_refused(body: dict[str, object]) -> None:
    # PostgreSQL cannot store them: the service would fail with a 500 instead of a 422.
    with pytest.raises(ValidationError):
        AccountCreate.model_validate(body)


def test_the_query_parameters_refused_are_those_the_document_does_not_list() -> None:
    """known_query reads a route's parameters, and which may repeat, from FastAPI's
    dependant; the OpenAPI document is built from the same, and both must agree for every
    operation."""
    app = create_app()
    documented = {
        (path, method.upper()): {
            p["name"]: _lists(p["schema"]) for p in op.get("parameters", []) if p["in"] == "query"
        }
        for path, operations in app.openapi()["paths"].items()
        for method, op in operations.items()
    }
    taken = {
        (route.path_format, method): dict(query_params(route.dependant))
        for module in ROUTE_MODULES
        for route in module.router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
    }
    assert taken == documented
    contacts = taken[("/api/v1/contacts", "GET")]
    assert contacts.keys() >= {"q", "tag", "order_by", "limit", "cursor"}
    assert {name for name, many in contacts.items() if many} == {"tag", "custom_field"}


def _lists(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "array" or any(_lists(s) for s in schema.get("anyOf", []))
