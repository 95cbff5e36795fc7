"""JSON request bodies: a media type other than JSON (415), numbers JSON has not, and nesting
past MAX_DEPTH, named by field."""

import json
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, File, Form, UploadFile
from pydantic import BaseModel

from crm_gateway.api.json_body import (
    MAX_DEPTH,
    first_flaw,
    foreign_charset,
    is_json,
    sound_json_body,
)
from crm_gateway.api.problems import EXCEPTION_HANDLERS
from crm_platform.errors import FieldViolation


def test_a_body_of_finite_numbers_nested_up_to_the_limit_is_sound() -> None:
    deepest = json.loads("[" * MAX_DEPTH + "1.5" + "]" * MAX_DEPTH)
    assert first_flaw(deepest) is None
    assert first_flaw({"a": [1, 2.5, -1e308, True, None, "NaN"], "b": {}}) is None


def test_one_level_more_is_named_where_it_starts() -> None:
    deeper = json.loads('{"a": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}")
    assert first_flaw(deeper) == FieldViolation(
        "a" + ".0" * (MAX_DEPTH - 1), f"nests more than {MAX_DEPTH} levels deep"
    )


def test_the_first_number_json_has_not_is_named_by_its_path() -> None:
    body = json.loads('{"ok": 1, "rows": [{"x": 2}, {"x": NaN}], "later": Infinity}')
    assert first_flaw(body) == FieldViolation("rows.1.x", "must be a finite number")
    assert first_flaw(float("-inf")) == FieldViolation("body", "must be a finite number")


@pytest.mark.parametrize(
    ("content_type", "json_or_not"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("application/problem+json;charset=UTF-8", True),
        ("", False),
        ("text/plain", False),
        ("application/xml", False),
        ("text/json", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
    ],
)
def test_json_is_application_json_or_a_json_suffix(content_type: str, json_or_not: bool) -> None:
    assert is_json(content_type) is json_or_not


class Thing(BaseModel):
    name: str | None = None


def an_app() -> FastAPI:
    """Routes of each kind the gateway has, behind the dependency every route gets."""
    app = FastAPI(
        dependencies=[Depends(sound_json_body)],
        exception_handlers=dict[Any, Any](EXCEPTION_HANDLERS),
    )

    @app.post("/things")
    async def create(body: Thing) -> Thing:
        return body

    @app.patch("/things/1")
    async def change(body: Thing) -> Thing:
        return body

    @app.post("/uploads")
    async def upload(
        file: Annotated[UploadFile, File()], entity: Annotated[str, Form()]
    ) -> dict[str, str]:
        return {"entity": entity, "file": (await file.read()).decode()}

    @app.post("/things/1/rotate")
    async def rotate() -> dict[str, str]:
        return {}

    return app


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=an_app()), base_url="http://t")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "text/json", "multipart/form-data", None]
)
async def test_a_body_that_is_not_json_is_415_naming_json(content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    async with client() as http:
        created = await http.post("/things", content=b'{"name": "x"}', headers=headers)
        changed = await http.patch("/things/1", content=b'{"name": "x"}', headers=headers)
    for reply in (created, changed):
        assert reply.status_code == 415, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.json()["type"] == "urn:crm:problem:unsupported-media-type"
    assert created.json()["detail"] == "send the body as application/json"
    assert "accept-patch" not in created.headers
    assert changed.headers["accept-patch"] == "application/merge-patch+json, application/json"
    assert changed.json()["detail"] == (
        "send the body as application/merge-patch+json or application/json"
    )


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/merge-patch+json",
        "application/problem+json",
    ],
)
async def test_json_and_json_suffix_types_are_taken(content_type: str) -> None:
    headers = {"Content-Type": content_type}
    async with client() as http:
        created = await http.post("/things", content=b'{"name": "x"}', headers=headers)
        changed = await http.patch("/things/1", content=b'{"name": "y"}', headers=headers)
    assert (created.status_code, created.json()) == (200, {"name": "x"})
    assert (changed.status_code, changed.json()) == (200, {"name": "y"})


async def test_forms_and_routes_without_a_body_are_left_alone() -> None:
    async with client() as http:
        uploaded = await http.post(
            "/uploads", data={"entity": "contacts"}, files={"file": ("a.csv", b"name\nx\n")}
        )
        rotated = await http.post(
            "/things/1/rotate", content=b"ignored", headers={"Content-Type": "text/plain"}
        )
    assert (uploaded.status_code, uploaded.json()) == (
        200,
        {"entity": "contacts", "file": "name\nx\n"},
    )
    assert rotated.status_code == 200, rotated.text


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "text/plain"}])
async def test_an_empty_body_is_still_a_missing_body(headers: dict[str, str]) -> None:
    async with client() as http:
        reply = await http.post("/things", headers=headers)
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"] == [{"field": "body", "message": "Field required"}]


@pytest.mark.parametrize(
    ("content_type", "foreign"),
    [
        ("application/json", False),
        ("application/json; charset=utf-8", False),
        ('application/json; charset="UTF-8"', False),
        ("application/merge-patch+json;charset=us-ascii", False),
        ("application/json; charset=latin-1", True),
        ("application/json; charset=windows-1252", True),
        ("application/json; charset=bogus", True),
        ("text/plain; charset=latin-1", False),  # not JSON: the route's own 415 or form
    ],
)
def test_json_is_utf8_or_labelled_foreign(content_type: str, foreign: bool) -> None:
    assert foreign_charset(content_type) is foreign
