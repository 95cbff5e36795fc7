"""Exports through the gateway from the real customer service: CSV and XLSX with exact rows,
a file that imports again as it was exported, and the requests refused before any byte."""

import csv
import io
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_customer.imports import open_rows

pytestmark = pytest.mark.e2e

EXPORTS = "/api/v1/exports"
IMPORTS = "/api/v1/imports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = ["first_name", "last_name", "email", "phone", "tags", "addresses", "birthday"]


def add_contact(client: httpx.Client, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    reply = client.post("/api/v1/contacts", json=fields, headers=auth)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


@pytest.fixture
def tagged(client: httpx.Client, auth: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    """Two contacts with a tag of their own: a Chinese name with an address, and a title
    that looks like a formula."""
    tag = f"exp-{uuid.uuid4().hex[:8]}"
    zhang = add_contact(
        client, auth, first_name="伟", last_name="张", email=f"zhang.{tag}@example.cn",
        phone=f"+86 139 {tag_digits(tag)}", tags=[tag, "华东"], birthday="1990-05-01",
        addresses=[{"kind": "office", "city": "上海", "country": "CN"}],
    )  # fmt: skip
    anna = add_contact(
        client, auth, first_name="Anna", last_name="Schmidt, Dr.", email=f"anna.{tag}@example.de",
        tags=[tag], title="=cmd|' /C calc'!A0",
    )  # fmt: skip
    return tag, [zhang, anna]


def tag_digits(tag: str) -> str:
    """Eight digits of the tag's own: a phone no other test's contact has."""
    return f"{int(tag.removeprefix('exp-'), 16) % 10**8:08d}"


def export(client: httpx.Client, auth: dict[str, str], **body: Any) -> httpx.Response:
    return client.post(EXPORTS, json=body, headers=auth, timeout=60)


def csv_table(reply: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(reply.content.decode("utf-8-sig"), newline="")))


def xlsx_table(reply: httpx.Response, tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "export.xlsx"
    path.write_bytes(reply.content)
    with open_rows(path) as source:
        return [source.headers, *(row.cells for row in source)]


def expected_rows(tag: str) -> list[list[str]]:
    return [
        COLUMNS,
        [
            "Anna", "Schmidt, Dr.", f"anna.{tag}@example.de", "", tag, "", "",
        ],
        [
            "伟", "张", f"zhang.{tag}@example.cn", f"+86139{tag_digits(tag)}", f"{tag}; 华东",
            '[{"kind":"office","city":"上海","country":"CN","street":"","region":"",'
            '"postal_code":""}]',
            "1990-05-01",
        ],
    ]  # fmt: skip


def test_a_filter_as_csv(
    client: httpx.Client, auth: dict[str, str], tagged: tuple[str, Any]
) -> None:
    tag, _ = tagged
    reply = export(
        client, auth, entity="contacts", format="csv", filter={"tag": [tag]},
        columns=COLUMNS, order_by="name",
    )  # fmt: skip

    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="contacts-\d{8}T\d{6}Z\.csv"', reply.headers["content-disposition"]
    )
    assert reply.content.startswith(b"\xef\xbb\xbf")
    assert csv_table(reply) == expected_rows(tag)


def test_a_segment_as_csv(
    client: httpx.Client, auth: dict[str, str], tagged: tuple[str, Any]
) -> None:
    tag, _ = tagged
    body = {"name": f"export {tag}", "entity": "contacts", "filter": {"tag": [tag]}}
    segment = client.post("/api/v1/segments", json=body, headers=auth)
    assert segment.status_code == 201, segment.text

    reply = export(
        client, auth, entity="contacts", segment_id=segment.json()["id"], columns=COLUMNS,
        order_by="name",
    )  # fmt: skip

    assert reply.status_code == 200, reply.text
    assert csv_table(reply) == expected_rows(tag)


def test_a_filter_as_xlsx(
    client: httpx.Client, auth: dict[str, str], tagged: tuple[str, Any], tmp_path: Path
) -> None:
    tag, _ = tagged
    reply = export(
        client, auth, entity="contacts", format="xlsx", filter={"tag": [tag]},
        columns=COLUMNS, order_by="name",
    )  # fmt: skip

    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == XLSX
    assert reply.headers["content-disposition"].endswith('.xlsx"')
    assert xlsx_table(reply, tmp_path) == expected_rows(tag)


def test_the_formula_guard_is_in_both_formats(
    client: httpx.Client, auth: dict[str, str], tagged: tuple[str, Any], tmp_path: Path
) -> None:
    tag, _ = tagged
    body = {"entity": "contacts", "filter": {"tag": [tag], "q": "Anna"}, "columns": ["title"]}
    as_csv = export(client, auth, format="csv", **body)
    as_xlsx = export(client, auth, format="xlsx", **body)
    expected = [["title"], ["'=cmd|' /C calc'!A0"]]
    assert csv_table(as_csv) == expected
    assert xlsx_table(as_xlsx, tmp_path) == expected


def imported(client: httpx.Client, auth: dict[str, str], name: str, data: bytes) -> Any:
    reply = client.post(
        IMPORTS, headers=auth, data={"entity": "contacts"}, files={"file": (name, data)}
    )
    assert reply.status_code == 202, reply.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"{IMPORTS}/{reply.json()['id']}", headers=auth).json()
        if job["status"] in ("succeeded", "failed"):
            return {k: job[k] for k in ("status", "created", "skipped", "failed")}
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def test_an_export_imports_again_as_it_was(
    client: httpx.Client, auth: dict[str, str], tagged: tuple[str, Any]
) -> None:
    tag, contacts = tagged
    everything = {"entity": "contacts", "filter": {"tag": [tag]}, "order_by": "name"}
    as_csv = export(client, auth, format="csv", **everything)
    as_xlsx = export(client, auth, format="xlsx", **everything)
    assert as_csv.status_code == as_xlsx.status_code == 200
    for contact in contacts:
        deleted = client.delete(
            f"/api/v1/contacts/{contact['id']}", headers={**auth, "If-Match": "*"}
        )
        assert deleted.status_code == 204

    assert imported(client, auth, "again.csv", as_csv.content) == {
        "status": "succeeded", "created": 2, "skipped": 0, "failed": 0,
    }  # fmt: skip
    again = export(client, auth, format="csv", columns=COLUMNS, **everything)
    original_title = ["'=cmd|' /C calc'!A0"]  # the guard's apostrophe stays in a re-import
    assert csv_table(again)[:1] == [COLUMNS]
    assert [row[:5] + row[6:] for row in csv_table(again)[1:]] == [
        row[:5] + row[6:] for row in expected_rows(tag)[1:]
    ]  # addresses are not import fields
    titles = export(client, auth, format="csv", columns=["title"], **everything)
    assert csv_table(titles)[1:] == [original_title, [""]]
    # The XLSX of the same records reads as the same rows: all of them repeat the import.
    assert imported(client, auth, "again.xlsx", as_xlsx.content) == {
        "status": "succeeded", "created": 0, "skipped": 2, "failed": 0,
    }  # fmt: skip


def test_an_idempotency_key_does_not_replay_an_export(
    client: httpx.Client, auth: dict[str, str], tagged: tuple[str, Any]
) -> None:
    tag, _ = tagged
    headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
    body = {"entity": "contacts", "filter": {"tag": [tag]}, "columns": ["email"]}
    first = client.post(EXPORTS, json=body, headers=headers)
    second = client.post(EXPORTS, json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in second.headers
    assert csv_table(first) == csv_table(second)
    assert len(csv_table(second)) == 3


@pytest.mark.parametrize(
    ("body", "status", "errors"),
    [
        (
            {"entity": "contacts", "filter": {}, "segment_id": str(uuid.uuid4())},
            422,
            [{"field": "segment_id", "message": "give a filter or a segment, not both"}],
        ),
        (
            {"entity": "contacts", "filter": {"tags": ["x"]}},
            422,
            [{"field": "filter.tags", "message": "Extra inputs are not permitted"}],
        ),
        (
            {"entity": "contacts", "format": "pdf"},
            422,
            [{"field": "format", "message": "Input should be 'csv' or 'xlsx'"}],
        ),
        (
            {"entity": "contacts", "filter": {"lifecycle": "customer"}},
            422,
            [{"field": "filter.lifecycle", "message": "filters accounts only"}],
        ),
        (
            {"entity": "contacts", "filter": {"phone": "not a phone"}},
            422,
            [
                {
                    "field": "filter.phone",
                    "message": "is not a phone number; add the country code or a region",
                }
            ],
        ),
        (
            {"entity": "accounts", "columns": ["name", "email"]},
            422,
            [{"field": "columns.1", "message": "'email' is not a field of this entity"}],
        ),
        ({"entity": "contacts", "segment_id": str(uuid.uuid4())}, 404, None),
    ],
)
def test_refusals_are_problems_before_any_file(
    client: httpx.Client, auth: dict[str, str], body: dict[str, Any], status: int, errors: Any
) -> None:
    reply = export(client, auth, **body)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.headers.get("content-disposition") is None
    assert reply.json().get("errors") == errors


def test_exporting_needs_the_export_permission(client: httpx.Client, auth: dict[str, str]) -> None:
    issued = client.post(
        "/api/v1/api-keys", json={"name": "Service desk", "roles": ["service_agent"]}, headers=auth
    )
    assert issued.status_code == 201, issued.text
    agent = {"X-API-Key": issued.json()["secret"]}
    reply = export(client, agent, entity="contacts")
    assert reply.status_code == 403
    assert reply.json()["detail"] == "not allowed to export contact"


def test_an_export_is_on_the_audit_trail_with_what_it_asked_for(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    issued = client.post(
        "/api/v1/api-keys", json={"name": "BI", "roles": ["analyst"]}, headers=auth
    )
    assert issued.status_code == 201, issued.text
    body = {"entity": "accounts", "format": "xlsx", "filter": {"lifecycle": "former"}}
    reply = export(client, {"X-API-Key": issued.json()["secret"]}, **body)
    assert reply.status_code == 200

    trail = client.get(
        "/api/v1/audit-events",
        params={"actor_id": issued.json()["id"], "action": "export.create"},
        headers=auth,
    )
    assert trail.status_code == 200, trail.text
    events = trail.json()["items"]
    assert [(e["route"], e["status"], e["after"]) for e in events] == [
        ("/api/v1/exports", 200, body)
    ]
