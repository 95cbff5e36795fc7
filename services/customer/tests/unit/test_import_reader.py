"""Import files as row streams: the format judged by content, encodings, delimiters, ragged
and blank rows, XLSX cells as text, and memory that stays flat however long the file."""

import datetime as dt
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from crm_customer.imports.errors import ImportFileError
from crm_customer.imports.reader import RawRow, open_rows


def write(tmp_path: Path, content: bytes, name: str = "upload.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def read_all(path: Path, **options: int) -> tuple[list[str], list[RawRow]]:
    with open_rows(path, **options) as source:
        return source.headers, list(source)


def refusal(path: Path, **options: int) -> str:
    with pytest.raises(ImportFileError) as error:
        open_rows(path, **options)
    return error.value.message


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_utf8_csv_with_or_without_bom(tmp_path: Path, bom: bytes) -> None:
    content = "姓名,Email\r\n张伟,zhang@example.cn\r\nAnna Müller,anna@example.de\r\n"
    headers, rows = read_all(write(tmp_path, bom + content.encode()))
    assert headers == ["姓名", "Email"]
    assert rows == [
        RawRow(2, ["张伟", "zhang@example.cn"]),
        RawRow(3, ["Anna Müller", "anna@example.de"]),
    ]


def test_semicolon_delimiter_is_found_in_the_header(tmp_path: Path) -> None:
    # Commas inside the data must not win: only the header line decides.
    content = "Name;Company;Notes\nZhang Wei;Acme, Inc.;a, b, c\n"
    headers, rows = read_all(write(tmp_path, content.encode()))
    assert headers == ["Name", "Company", "Notes"]
    assert rows == [RawRow(2, ["Zhang Wei", "Acme, Inc.", "a, b, c"])]


def test_delimiters_inside_quoted_headers_do_not_count(tmp_path: Path) -> None:
    content = '"Name, full";"Phone, mobile"\nWei;138\n'
    headers, rows = read_all(write(tmp_path, content.encode()))
    assert headers == ["Name, full", "Phone, mobile"]
    assert rows == [RawRow(2, ["Wei", "138"])]


def test_blank_lines_and_a_second_bom_before_the_header_are_passed_over(tmp_path: Path) -> None:
    content = "\ufeff  \r\n\n\ufeffName;Email\nWei;w@example.com\n".encode()
    headers, rows = read_all(write(tmp_path, content))
    assert headers == ["Name", "Email"]
    assert rows == [RawRow(4, ["Wei", "w@example.com"])]


def test_excels_separator_line_names_the_delimiter(tmp_path: Path) -> None:
    content = "\ufeffsep=;\r\nName;Company\r\nWei;Acme, Inc.\r\n".encode()
    headers, rows = read_all(write(tmp_path, content))
    assert headers == ["Name", "Company"]
    assert rows == [RawRow(3, ["Wei", "Acme, Inc."])]


def test_tab_delimiter(tmp_path: Path) -> None:
    headers, rows = read_all(write(tmp_path, b"Name\tEmail\nWei\tw@example.com\n"))
    assert headers == ["Name", "Email"]
    assert rows == [RawRow(2, ["Wei", "w@example.com"])]


def test_quoted_newlines_stay_in_the_cell_and_lines_count_from_the_row_start(
    tmp_path: Path,
) -> None:
    content = b'Name,Notes\r\nWei,"first line\r\nsecond line"\r\nAnna,plain\r\n'
    _, rows = read_all(write(tmp_path, content))
    assert rows == [
        RawRow(2, ["Wei", "first line\r\nsecond line"]),
        RawRow(4, ["Anna", "plain"]),
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        # Read leniently, the open quote took every line after it into one cell.
        (b'name,email\n"Unterm X,a@example.com\nB Y,b@example.com\n', "line 2 opens a quoted"),
        (b'name,email\nB Y,b@example.com\n"Ada"Li,a@example.com\n', "line 3 cannot be read"),
    ],
)
def test_malformed_quoting_is_refused_naming_the_line(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    with pytest.raises(ImportFileError) as refused:
        read_all(write(tmp_path, content))
    assert refused.value.message.startswith(reason)


def test_lone_carriage_returns_end_lines_too(tmp_path: Path) -> None:
    _, rows = read_all(write(tmp_path, b"Name,City\rWei,Beijing\rAnna,Berlin\r"))
    assert rows == [RawRow(2, ["Wei", "Beijing"]), RawRow(3, ["Anna", "Berlin"])]


def test_latin1_bytes_are_refused_naming_the_line(tmp_path: Path) -> None:
    content = "Name,City\nWei,Beijing\nJosé,Málaga\n".encode("latin-1")
    message = refusal(write(tmp_path, content))
    assert message == "the file is not UTF-8 at line 3; save the file as UTF-8"


def test_a_bad_byte_far_into_the_file_is_found_before_any_row_is_read(tmp_path: Path) -> None:
    good = b"".join(b"Person %d,city %d\n" % (n, n) for n in range(1, 50_000))
    content = b"Name,City\n" + good + b"M\xfcller,Berlin\n"
    assert len(content) > 512 * 1024  # several of the pieces the check reads
    message = refusal(write(tmp_path, content))
    assert message == "the file is not UTF-8 at line 50001; save the file as UTF-8"


def test_a_file_cut_inside_a_character_is_refused(tmp_path: Path) -> None:
    content = "Name\n张伟\n".encode()[:-2]  # the last character loses a byte
    assert refusal(write(tmp_path, content)) == (
        "the file is not UTF-8 at line 2; save the file as UTF-8"
    )


def test_utf16_with_bom_as_excel_saves_unicode_text(tmp_path: Path) -> None:
    content = "姓名\t电话\r\n张伟\t138 0013 8000\r\n".encode("utf-16")
    headers, rows = read_all(write(tmp_path, content, "unicode.txt"))
    assert headers == ["姓名", "电话"]
    assert rows == [RawRow(2, ["张伟", "138 0013 8000"])]


def test_a_png_named_csv_is_refused(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100)
    assert refusal(write(tmp_path, png)) == (
        "the file is not CSV or XLSX: it is a PNG image; save it as CSV or XLSX"
    )


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"%PDF-1.7\n...", "a PDF document"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(50),
            "an old Excel .xls or a password-protected file",
        ),
        (b"\x1f\x8b\x08\x00" + bytes(20), "a gzip archive"),
        (b"\x7fELF\x02\x01\x01", "a program"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
        (b'<?xml version="1.0"?>\n<Workbook/>', "an XML document"),
        (bytes(4096), "a binary file (it contains NUL bytes)"),
        (b"Name,Email\nWei\x00,w@x.cn\n", "a binary file (it contains NUL bytes)"),
    ],
)
def test_other_files_are_refused_by_their_content(
    tmp_path: Path, content: bytes, kind: str
) -> None:
    assert refusal(write(tmp_path, content)) == (
        f"the file is not CSV or XLSX: it is {kind}; save it as CSV or XLSX"
    )


def test_a_nul_after_the_first_64_kib_names_its_line(tmp_path: Path) -> None:
    rows = b"".join(b"Person %d,x\n" % n for n in range(10_000))
    content = b"Name,City\n" + rows + b"Bad\x00Name,y\n"
    assert refusal(write(tmp_path, content)) == "line 10002 contains a NUL character; remove it"


def test_zip_archives_that_are_not_workbooks_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "contacts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("contacts.csv", "Name\nWei\n")
    assert (
        refusal(path) == "the file is not CSV or XLSX: it is a ZIP archive; save it as CSV or XLSX"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert refusal(path) == (
        "the file is not CSV or XLSX: it is a Word document; save it as CSV or XLSX"
    )


def test_empty_file(tmp_path: Path) -> None:
    assert refusal(write(tmp_path, b"")) == "the file is empty"


def test_blank_lines_only_have_no_header(tmp_path: Path) -> None:
    assert refusal(write(tmp_path, b"\r\n\r\n ,  ,\r\n")) == "the file has no header row"


def test_header_only(tmp_path: Path) -> None:
    assert refusal(write(tmp_path, b"Name,Email\r\n")) == "the file has no data rows"
    assert refusal(write(tmp_path, b"Name,Email\r\n,\r\n\r\n")) == "the file has no data rows"


def test_blank_rows_are_skipped_and_lines_keep_their_numbers(tmp_path: Path) -> None:
    content = b"\nName,Email\n\nWei,w@x.cn\n , \nAnna,a@x.de\n"
    headers, rows = read_all(write(tmp_path, content))
    assert headers == ["Name", "Email"]
    assert rows == [RawRow(4, ["Wei", "w@x.cn"]), RawRow(6, ["Anna", "a@x.de"])]


def test_ragged_rows(tmp_path: Path) -> None:
    content = (
        b"Name,Email,City,,\nShort,s@x.cn\nTrailing,t@x.cn,Rome,,,\n"
        b"Noted,n@x.cn,Rome,x,,\nLong,l@x.cn,Rome,,,y\n"
    )
    headers, rows = read_all(write(tmp_path, content))
    assert headers == ["Name", "Email", "City"]  # unnamed trailing columns dropped
    assert rows == [
        RawRow(2, ["Short", "s@x.cn", ""]),
        RawRow(3, ["Trailing", "t@x.cn", "Rome"]),
        RawRow(4, ["Noted", "n@x.cn", "Rome"]),  # under an unnamed column: left out
        RawRow(5, ["Long", "l@x.cn", "Rome", "", "", "y"], "row has 6 cells, the header has 3"),
    ]


def test_max_rows(tmp_path: Path) -> None:
    content = b"Name\n" + b"".join(b"P%d\n" % n for n in range(5))
    assert refusal(write(tmp_path, content), max_rows=4) == (
        "the file has 5 rows, more than the 4 allowed; split it"
    )
    # Blank lines and multi-line cells do not count: 3 rows in 7 lines.
    padded = b'Name,Notes\n\nA,"1\n2\n3"\n\nB,x\nC,y\n'
    _, rows = read_all(write(tmp_path, padded), max_rows=3)
    assert [row.cells[0] for row in rows] == ["A", "B", "C"]


def write_workbook(path: Path) -> None:
    workbook = xlsxwriter.Workbook(path)
    hidden = workbook.add_worksheet("old")
    hidden.write(0, 0, "not this one")
    sheet = workbook.add_worksheet("联系人")
    sheet.activate()
    hidden.hide()
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    # The data starts at B3, as in many hand-made sheets.
    sheet.write_row(2, 1, ["姓名", "电话", "生日", "员工数", "VIP", "更新", "金额"])
    sheet.write_string(3, 1, "张伟")
    sheet.write_number(3, 2, 13800138000)
    sheet.write_datetime(3, 3, dt.date(1990, 5, 1), day)
    sheet.write_number(3, 4, 250)
    sheet.write_boolean(3, 5, True)
    sheet.write_datetime(3, 6, dt.datetime(2024, 1, 2, 3, 4, 5), stamp)
    sheet.write_number(3, 7, 0.1 + 0.2)
    sheet.write_string(5, 1, "Anna Schmidt")  # row 5 left blank
    sheet.write_string(5, 2, "+49 30 1234567")
    sheet.write_boolean(5, 5, False)
    sheet.write_number(5, 7, -12.5)
    sheet.write_number(5, 4, 110101199003077777)  # an 18-digit id Excel keeps 15 digits of
    workbook.close()


def test_xlsx_cells_become_text(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"  # the name lies; the content decides
    write_workbook(path)
    headers, rows = read_all(path)
    assert headers == ["姓名", "电话", "生日", "员工数", "VIP", "更新", "金额"]
    assert rows == [
        RawRow(
            4, ["张伟", "13800138000", "1990-05-01", "250", "true", "2024-01-02 03:04:05", "0.3"]
        ),
        RawRow(
            6, ["Anna Schmidt", "+49 30 1234567", "", "110101199003078000", "false", "", "-12.5"]
        ),
    ]


def test_xlsx_header_only(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    workbook = xlsxwriter.Workbook(path)
    workbook.add_worksheet().write_row(0, 0, ["Name", "Email"])
    workbook.close()
    assert refusal(path) == "the file has no data rows"


@pytest.mark.parametrize("row", [0, 2])  # the header, a data row
def test_a_nul_in_an_xlsx_cell_is_refused_naming_its_row(tmp_path: Path, row: int) -> None:
    path = tmp_path / "nul.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    for index, cells in enumerate([["Name", "Email"], ["Ada Li", "ada@example.com"], ["Bo", ""]]):
        sheet.write_row(index, 0, cells)
    sheet.write_string(row, 0, "Bad\x00Name")  # stored as _x0000_, read back as NUL
    workbook.close()
    with pytest.raises(ImportFileError) as refused:
        read_all(path)
    assert refused.value.message == f"row {row + 1} contains a NUL character; remove it"


def test_xlsx_max_rows(tmp_path: Path) -> None:
    path = tmp_path / "many.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    sheet.write(0, 0, "Name")
    for row in range(1, 11):
        sheet.write(row, 0, f"P{row}")
    workbook.close()
    assert refusal(path, max_rows=9) == "the file has 10 rows, more than the 9 allowed; split it"
    assert len(read_all(path, max_rows=10)[1]) == 10


def test_closing_early_stops_the_stream(tmp_path: Path) -> None:
    path = write(tmp_path, b"Name\n" + b"".join(b"P%d\n" % n for n in range(100)))
    source = open_rows(path)
    rows = iter(source)
    assert next(rows) == RawRow(2, ["P0"])
    source.close()
    assert list(rows) == []


def test_a_large_csv_streams_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("姓名,邮箱,电话,公司,职位,备注\r\n")
        for n in range(200_000):
            out.write(f'联系人{n},person{n}@example.com,138{n:08d},公司{n % 97},经理,"第{n}行"\r\n')
    assert path.stat().st_size > 10_000_000

    tracemalloc.start()
    try:
        with open_rows(path, max_rows=1_000_000) as source:
            count = 0
            for row in source:
                count += 1
                last = row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert last == RawRow(
        200_001,
        ["联系人199999", "person199999@example.com", "13800199999", "公司82", "经理", "第199999行"],
    )
    assert peak < 3 * 1024 * 1024, f"peak {peak / 1024:.0f} KiB"


def test_a_damaged_workbook_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "not xml at all")
    assert refusal(path).startswith("the XLSX file cannot be read: ")
