"""Export files: cells from record JSON, CSV and XLSX written as they stream, and read back
by the project's own import reader (crm_customer.imports), as an import of them would."""

import asyncio
import csv
import io
import secrets
import tracemalloc
import zipfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from crm_customer.imports import open_rows
from crm_gateway.exports.cells import cell_text, guarded, record_cells
from crm_gateway.exports.csv_file import csv_file
from crm_gateway.exports.xlsx_file import column_letters, xlsx_file

HEADER = ["first_name", "title", "tags", "addresses"]
ROWS = [
    ["张伟", 'Chef, "Einkauf"', "vip; 华东", '[{"city":"上海"}]'],
    ["Anna", "line one\nline two", "", "'=cmd|' /C calc'!A0"],
    ["O'Brien", "a & b < c > d", "x", "+8613800138000"],
]


async def batches(*groups: Sequence[Sequence[str]]) -> AsyncIterator[Sequence[Sequence[str]]]:
    for group in groups:
        yield group


async def written(writer: object, header: Sequence[str], *groups: Sequence[Sequence[str]]) -> bytes:
    return b"".join([piece async for piece in writer(header, batches(*groups))])  # type: ignore[operator]


def read_back(tmp_path: Path, name: str, data: bytes) -> tuple[list[str], list[list[str]]]:
    path = tmp_path / name
    path.write_bytes(data)
    with open_rows(path) as source:
        return source.headers, [row.cells for row in source]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (38, "38"),
        ("张伟", "张伟"),
        (["vip", "华东"], "vip; 华东"),
        ([], ""),
        ({}, ""),
        ([{"kind": "office", "city": "上海"}], '[{"kind":"office","city":"上海"}]'),
        ({"shoe_size": 38, "vip": True}, '{"shoe_size":38,"vip":true}'),
        ({"value": "1200.50", "currency": "EUR"}, '{"value":"1200.50","currency":"EUR"}'),
    ],
)
def test_values_become_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("+1+cmd", "'+1+cmd"),
        ("-2+3", "'-2+3"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("+8613800138000", "+8613800138000"),
        ("-12.5", "-12.5"),
        ("Anna = Anne", "Anna = Anne"),
        ("", ""),
    ],
)
def test_cells_that_could_start_a_formula_get_an_apostrophe(text: str, cell: str) -> None:
    assert guarded(text) == cell


def test_record_cells_follow_the_columns_and_guard_each_cell() -> None:
    record = {"first_name": "=HYPERLINK()", "tags": ["a", "b"], "team_id": None}
    columns = ["tags", "first_name", "team_id", "internal_notes"]
    assert record_cells(record, columns) == ["a; b", "'=HYPERLINK()", "", ""]


def test_csv_starts_with_a_bom_and_quotes_what_needs_quoting(tmp_path: Path) -> None:
    data = asyncio.run(written(csv_file, HEADER, ROWS[:2], [], ROWS[2:]))

    assert data.startswith(b"\xef\xbb\xbffirst_name,title,tags,addresses\r\n")
    text = data.decode("utf-8-sig")
    assert '"Chef, ""Einkauf"""' in text
    assert '"line one\nline two"' in text
    assert list(csv.reader(io.StringIO(text, newline=""))) == [HEADER, *ROWS]
    assert read_back(tmp_path, "export.csv", data) == (HEADER, ROWS)


def test_xlsx_opens_with_the_import_reader_row_by_row(tmp_path: Path) -> None:
    data = asyncio.run(written(xlsx_file, HEADER, ROWS[:1], ROWS[1:]))

    assert read_back(tmp_path, "export.xlsx", data) == (HEADER, ROWS)
    package = zipfile.ZipFile(io.BytesIO(data))
    assert package.testzip() is None
    assert sorted(package.namelist()) == [
        "[Content_Types].xml",
        "_rels/.rels",
        "xl/_rels/workbook.xml.rels",
        "xl/workbook.xml",
        "xl/worksheets/sheet1.xml",
    ]
    # Written without seeking: sizes follow each entry in a data descriptor (flag bit 3).
    assert {info.flag_bits & 0x08 for info in package.infolist()} == {0x08}
    sheet = package.read("xl/worksheets/sheet1.xml").decode()
    assert '<c r="C3" t="inlineStr">' not in sheet  # an empty cell is left out
    assert "a &amp; b &lt; c &gt; d" in sheet


def test_xlsx_keeps_what_xml_cannot_hold_readable(tmp_path: Path) -> None:
    data = asyncio.run(written(xlsx_file, ["first_name"], [["bell\x07here"], [" padded "]]))
    assert read_back(tmp_path, "export.xlsx", data) == (
        ["first_name"],
        [["bell\ufffdhere"], [" padded "]],
    )


def test_an_empty_export_is_a_header_only_file(tmp_path: Path) -> None:
    csv_data = asyncio.run(written(csv_file, ["name"]))
    xlsx_data = asyncio.run(written(xlsx_file, ["name"]))
    assert csv_data == b"\xef\xbb\xbfname\r\n"
    package = zipfile.ZipFile(io.BytesIO(xlsx_data))
    assert (
        package.read("xl/worksheets/sheet1.xml")
        .decode()
        .endswith(
            '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t xml:space="preserve">name'
            "</t></is></c></row></sheetData></worksheet>"
        )
    )


@pytest.mark.parametrize(("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ")])
def test_column_letters(index: int, letters: str) -> None:
    assert column_letters(index) == letters


@pytest.mark.parametrize("writer", [csv_file, xlsx_file])
def test_memory_does_not_grow_with_rows(writer: object) -> None:
    """40,000 rows of ~170 bytes (7 MB of text): the writer holds one batch at a time."""

    async def many() -> AsyncIterator[Sequence[Sequence[str]]]:
        for _ in range(80):
            yield [[secrets.token_hex(16) for _ in range(5)] for _ in range(500)]

    async def drain() -> tuple[int, int]:
        total = largest = 0
        async for piece in writer(["a", "b", "c", "d", "e"], many()):  # type: ignore[operator]
            total += len(piece)
            largest = max(largest, len(piece))
        return total, largest

    tracemalloc.start()
    try:
        total, largest = asyncio.run(drain())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total > 3_000_000
    assert largest < 200_000
    assert peak < 3_000_000
