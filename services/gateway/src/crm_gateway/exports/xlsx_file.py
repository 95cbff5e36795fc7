"""XLSX as it streams, with nothing but the standard library: a ZIP written to a sink that
cannot seek (so zipfile puts each entry's sizes in a data descriptor after its data), the
worksheet written row by row with inline strings. Memory holds one batch of rows and the
compressor's window, however many rows there are.

The workbook has the parts a reader needs and no more: content types, the package and
workbook relations, the workbook with one sheet, and that sheet. Every cell is text.
"""

import re
import zipfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from xml.sax.saxutils import escape

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NAME = "Export"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_CONTENT_TYPES = (
    _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_PACKAGE_RELS = (
    _XML + f'<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
    f'Type="{_RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    _XML + f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}"><sheets>'
    f'<sheet name="{SHEET_NAME}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    _XML + f'<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
    f'Type="{_RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_START = _XML + f'<worksheet xmlns="{_MAIN}"><sheetData>'
_SHEET_END = "</sheetData></worksheet>"
# Characters XML 1.0 cannot hold at all; they become U+FFFD rather than break the file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Sink:
    """A write-only, non-seekable file whose bytes are taken out as they come."""

    def __init__(self) -> None:
        self._data = bytearray()

    def write(self, data: bytes) -> int:
        self._data.extend(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self._data)
        self._data.clear()
        return data


async def xlsx_file(
    header: Sequence[str], batches: AsyncIterable[Sequence[Sequence[str]]]
) -> AsyncIterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as package:
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _PACKAGE_RELS),
            ("xl/workbook.xml", _WORKBOOK),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
        ):
            package.writestr(name, text)
        yield sink.take()
        with package.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write((_SHEET_START + sheet_rows([header], first=1)).encode())
            written = 1
            async for rows in batches:
                sheet.write(sheet_rows(rows, first=written + 1).encode())
                written += len(rows)
                yield sink.take()
            sheet.write(_SHEET_END.encode())
    yield sink.take()  # the sheet's data descriptor and the central directory


def sheet_rows(rows: Iterable[Sequence[str]], *, first: int) -> str:
    """`<row>` elements numbered from `first`; empty cells are left out."""
    parts = []
    for number, row in enumerate(rows, start=first):
        parts.append(f'<row r="{number}">')
        for index, text in enumerate(row):
            if text:
                reference = f"{column_letters(index)}{number}"
                parts.append(
                    f'<c r="{reference}" t="inlineStr"><is><t xml:space="preserve">'
                    f"{escape(_NOT_XML.sub(chr(0xFFFD), text))}</t></is></c>"
                )
        parts.append("</row>")
    return "".join(parts)


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters
