"""CSV as it streams: UTF-8 with a BOM (which Excel needs to read UTF-8, Chinese names
included), RFC 4180 quoting, CRLF line ends; one piece of bytes per batch of rows."""

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Sequence

BOM = "\ufeff"
MEDIA_TYPE = "text/csv; charset=utf-8"


async def csv_file(
    header: Sequence[str], batches: AsyncIterable[Sequence[Sequence[str]]]
) -> AsyncIterator[bytes]:
    yield (BOM + csv_rows([header])).encode()
    async for rows in batches:
        if rows:
            yield csv_rows(rows).encode()


def csv_rows(rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()
