"""Imports through the gateway into the real customer service: a mixed Chinese and English
file with bad rows and duplicates gives exact counts and an errors CSV; an XLSX file; bad
files are a 422 that queues nothing; an import survives the service being killed."""

import csv
import io
import random
import time
import uuid
from typing import Any

import httpx
import pytest
import xlsxwriter

pytestmark = pytest.mark.e2e

IMPORTS = "/api/v1/imports"


def _phone() -> str:
    return f"139{random.randint(0, 99_999_999):08d}"


def upload(
    client: httpx.Client,
    auth: dict[str, str],
    content: bytes,
    name: str = "contacts.csv",
    **form: str,
) -> httpx.Response:
    fields = {"entity": "contacts", "default_region": "CN", **form}
    return client.post(IMPORTS, headers=auth, data=fields, files={"file": (name, content)})


def finished(client: httpx.Client, auth: dict[str, str], job_id: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reply = client.get(f"{IMPORTS}/{job_id}", headers=auth)
        if reply.status_code == 200 and reply.json()["status"] in ("succeeded", "failed"):
            return reply.json()
        time.sleep(0.1)
    raise AssertionError(f"import {job_id} not finished in {seconds} s")


def test_mixed_chinese_and_english_file(client: httpx.Client, auth: dict[str, str]) -> None:
    tag = f"imp-{uuid.uuid4().hex[:8]}"
    zhang, anna = _phone(), _phone()
    rows = [
        ["姓名", "手机", "邮箱", "公司", "职位", "标签"],
        ["张伟", zhang, f"zhang.wei.{tag}@example.cn", f"华为 {tag}", "经理", tag],
        ["Anna Maria Schmidt", f"+86 {anna}", f"anna.{tag}@example.de", f"Acme {tag}", "", tag],
        ["欧阳娜娜", "", f"ouyang.{tag}@example.cn", f"华为 {tag}", "", tag],
        ["", _phone(), f"nobody.{tag}@example.com", "", "", tag],
        ["王芳", "12345", f"wang.{tag}@example.cn", "", "", tag],
        ["赵敏", _phone(), "not-an-email", "", "", tag],
        ["Zhang Wei", f"{zhang[:3]}-{zhang[3:7]}-{zhang[7:]}", "", "", "", tag],
        ["陈静", "", f"ANNA.{tag}@EXAMPLE.DE", "", "", tag],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    reply = upload(client, auth, ("\ufeff" + out.getvalue()).encode())
    assert reply.status_code == 202, reply.text
    assert reply.headers["location"] == f"{IMPORTS}/{reply.json()['id']}"
    assert reply.json()["status"] in ("queued", "running", "succeeded")

    job = finished(client, auth, reply.json()["id"])
    counts = {k: job[k] for k in ("status", "total", "created", "updated", "skipped", "failed")}
    assert counts == {
        "status": "succeeded", "total": 8, "created": 3, "updated": 0, "skipped": 2, "failed": 3
    }  # fmt: skip
    errors = client.get(f"{IMPORTS}/{job['id']}/errors", headers=auth)
    assert errors.status_code == 200
    assert errors.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(errors.content.decode("utf-8-sig"))))
    assert table[0] == ["line", "outcome", "reason", *rows[0]]
    assert [row[:3] for row in table[1:]] == [
        ["5", "failed", "no name"],
        ["6", "failed", "phone '12345' is not a valid phone number"],
        ["7", "failed", "email 'not-an-email' is not a valid address"],
        ["8", "skipped", "duplicate of row 2 (same phone)"],
        ["9", "skipped", "duplicate of row 3 (same email)"],
    ]
    assert table[1][3:] == rows[4]  # the row as uploaded, to fix and import again

    found = client.get("/api/v1/contacts", params={"tag": tag, "limit": 50}, headers=auth)
    people = {(c["last_name"], c["first_name"]): c for c in found.json()["items"]}
    assert set(people) == {("张", "伟"), ("Schmidt", "Anna Maria"), ("欧阳", "娜娜")}
    assert people[("张", "伟")]["phone"] == f"+86{zhang}"
    assert people[("张", "伟")]["account_id"] == people[("欧阳", "娜娜")]["account_id"]
    by_phone = client.get("/api/v1/contacts", params={"phone": f"+86 {anna}"}, headers=auth)
    assert [c["email"] for c in by_phone.json()["items"]] == [f"anna.{tag}@example.de"]

    # The same file again: every row is now a duplicate of what the first import made.
    again = finished(client, auth, upload(client, auth, out.getvalue().encode()).json()["id"])
    assert (again["created"], again["skipped"], again["failed"]) == (0, 5, 3)


def test_the_errors_csv_gives_rows_back_whole_and_formulas_inert(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    content = b'name,email\n"=HYPERLINK(""http://x.example"")",a@example.com,-1+2\n'
    job = finished(client, auth, upload(client, auth, content).json()["id"])
    assert (job["status"], job["failed"]) == ("succeeded", 1)

    errors = client.get(f"{IMPORTS}/{job['id']}/errors", headers=auth)
    table = list(csv.reader(io.StringIO(errors.content.decode("utf-8-sig"))))
    assert table == [
        ["line", "outcome", "reason", "name", "email"],
        [
            "2",
            "failed",
            "row has 3 cells, the header has 2",
            '\'=HYPERLINK("http://x.example")',
            "a@example.com",
            "'-1+2",
        ],
    ]


def test_xlsx_with_upsert(client: httpx.Client, auth: dict[str, str]) -> None:
    email = f"li.{uuid.uuid4().hex[:8]}@example.cn"
    first = finished(
        client, auth, upload(client, auth, _xlsx([["姓名", "邮箱"], ["李娜", email]]),
                             "people.xlsx").json()["id"],
    )  # fmt: skip
    assert (first["status"], first["created"]) == ("succeeded", 1)
    update = _xlsx(
        [["姓名", "邮箱", "职位", "生日"], ["李娜", email.upper(), "总监", "1990-05-04"]]
    )
    second = finished(
        client, auth, upload(client, auth, update, "people.xlsx", mode="upsert").json()["id"]
    )
    assert (second["created"], second["updated"]) == (0, 1)
    found = client.get("/api/v1/contacts", params={"email": email}, headers=auth).json()["items"]
    assert [(c["title"], c["birthday"], c["version"]) for c in found] == [("总监", "1990-05-04", 2)]


def _xlsx(rows: list[list[str]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    for index, row in enumerate(rows):
        sheet.write_row(index, 0, row)
    book.close()
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "form", "field"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(200), {}, "file"),
        (b"", {}, "file"),
        (b"name\n", {}, "file"),
        ("姓名\n张伟\n".encode("gb18030"), {}, "file"),
        (b"name\nx\n", {"entity": "leads"}, "entity"),
        (b"name\nx\n", {"mode": "replace"}, "mode"),
        (b"name\nx\n", {"mapping": "[1, 2]"}, "mapping"),
        (b"Nom\nx\n", {"mapping": '{"Nom": "nickname"}'}, "mapping"),
        (b"name\nx\n", {"default_region": "XX"}, "default_region"),
        (b'name,email\n"Ada Li,ada@example.com\nBo Li,bo@example.com\n', {}, "file"),
        (b"name\nx\n", {"mapping": '{"na\\u0000me": "name"}'}, "mapping"),
    ],
)
def test_unusable_upload_is_a_422_that_queues_nothing(
    client: httpx.Client, auth: dict[str, str], content: bytes, form: dict[str, str], field: str
) -> None:
    before = _newest_import(client, auth)
    reply = upload(client, auth, content, **form)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in reply.json()["errors"]] == [field]
    assert _newest_import(client, auth) == before


def _newest_import(client: httpx.Client, auth: dict[str, str]) -> str | None:
    items = client.get(IMPORTS, params={"limit": 1}, headers=auth).raise_for_status().json()
    return items["items"][0]["id"] if items["items"] else None


def test_imports_are_listed_newest_first(client: httpx.Client, auth: dict[str, str]) -> None:
    older = upload(client, auth, f"name,phone\nAda Li,{_phone()}\n".encode()).json()["id"]
    newer = upload(client, auth, f"name,phone\nBo Li,{_phone()}\n".encode()).json()["id"]
    finished(client, auth, older)
    finished(client, auth, newer)

    page = client.get(IMPORTS, params={"limit": 1}, headers=auth).json()
    assert [job["id"] for job in page["items"]] == [newer]
    cursor = page["next_cursor"]
    rest = client.get(IMPORTS, params={"limit": 1, "cursor": cursor}, headers=auth).json()
    assert [(job["id"], job["created"]) for job in rest["items"]] == [(older, 1)]
    queued = client.get(IMPORTS, params={"status": "queued"}, headers=auth).json()["items"]
    assert {older, newer}.isdisjoint(job["id"] for job in queued)
    refused = client.get(IMPORTS, params={"status": "done"}, headers=auth)
    assert (refused.status_code, refused.headers["content-type"]) == (
        422,
        "application/problem+json",
    )


def test_unknown_import_is_404(client: httpx.Client, auth: dict[str, str]) -> None:
    missing = f"{IMPORTS}/{uuid.uuid4()}"
    assert client.get(missing, headers=auth).status_code == 404
    assert client.get(f"{missing}/errors", headers=auth).status_code == 404
    assert client.get(f"{IMPORTS}/not-an-id", headers=auth).status_code == 404


def test_import_survives_the_service_being_killed(
    client: httpx.Client, auth: dict[str, str], stack: Any
) -> None:
    tag = f"kill-{uuid.uuid4().hex[:8]}"
    rows = 40_000
    lines = ["first_name,last_name,email,tags"]
    lines += [f"P{i},{tag},p{i}.{tag}@example.com,{tag}" for i in range(rows)]
    job_id = upload(client, auth, "\n".join(lines).encode()).json()["id"]
    while (job := client.get(f"{IMPORTS}/{job_id}", headers=auth).json())["processed"] == 0:
        time.sleep(0.05)
    assert job["processed"] < rows, "the import ended before it could be interrupted"

    stack.kill_service("customer")
    stack.restart()
    job = finished(client, auth, job_id, seconds=120)

    assert (job["status"], job["created"], job["skipped"], job["failed"]) == (
        "succeeded", rows, 0, 0
    )  # fmt: skip
    emails, cursor = [], None
    while True:
        params = {"tag": tag, "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/contacts", params=params, headers=auth).json()
        emails += [c["email"] for c in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert len(emails) == rows
    assert len(set(emails)) == rows  # each row imported exactly once
