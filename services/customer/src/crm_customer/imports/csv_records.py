"""CSV as a stream of records: the encoding checked up front, the delimiter taken from the
header line, then `csv.reader` over the open text file, one record at a time."""

import codecs
import csv
import re
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from crm_customer.imports.errors import ImportFileError
from crm_customer.imports.formats import HEAD_BYTES, Format, Record, not_a_table

# Read in pieces this big when checking the encoding: memory stays flat for any file size.
_CHUNK_BYTES = 256 * 1024
_DELIMITERS = (",", ";", "\t")  # on a tie the first wins: "," is the common case
# Excel writes (and reads) `sep=;` as a first line naming the delimiter.
_SEPARATOR_HINT = re.compile(r"sep=([,;\t|])[ \t]*(?:\r\n|\r|\n)", re.IGNORECASE)
_BLANK_LINES = re.compile(r"^(?:[ \t]*(?:\r\n|\r|\n))+")  # before the header, skipped too


@dataclass(frozen=True)
class CsvFile:
    path: Path
    encoding: str  # "utf-8-sig" or "utf-16": both drop the byte-order mark
    delimiter: str
    max_records: int  # an upper bound, from counting line breaks
    hinted: bool = False  # the first line is Excel's `sep=;`, not part of the table

    def records(self) -> Generator[Record, None, None]:
        """Every record, blank ones included, with the line it starts on (1-based).

        Strict: a quote left open would otherwise swallow the rest of the file into one
        cell, and `"a"b` would silently become `ab`."""
        with self.path.open(encoding=self.encoding, newline="") as text:
            if self.hinted:
                text.readline()
            reader = csv.reader(text, delimiter=self.delimiter, strict=True)
            next_line = 2 if self.hinted else 1
            try:
                for cells in reader:
                    yield next_line, cells
                    next_line = reader.line_num + 1 + self.hinted
            except csv.Error as error:
                raise ImportFileError(_unreadable(next_line, str(error))) from None


def _unreadable(line: int, error: str) -> str:
    if error == "unexpected end of data":
        return f'line {line} opens a quoted cell (") that is never closed'
    return f"line {line} cannot be read as CSV: {error}"


def inspect_csv(path: Path, file_format: Format, head: bytes) -> CsvFile:
    if file_format is Format.CSV_UTF16:
        encoding = "utf-16"
        plain_codec = "utf-16-le" if head.startswith(b"\xff\xfe") else "utf-16-be"
    else:
        encoding = plain_codec = "utf-8-sig"
    line_breaks, first_chars = _check_encoding(path, encoding, plain_codec)
    if hint := _SEPARATOR_HINT.match(first_chars):
        return CsvFile(path, encoding, hint[1], line_breaks + 1, hinted=True)
    return CsvFile(path, encoding, _delimiter(first_chars), line_breaks + 1)


def _check_encoding(path: Path, encoding: str, plain_codec: str) -> tuple[int, str]:
    """One pass over the whole file before any row is used, so a bad byte near the end
    fails the import before it starts instead of after half of it is stored. Returns the
    number of line breaks and the first decoded characters (for finding the delimiter).
    `plain_codec` decodes a piece without the byte-order mark, for naming the bad line."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line_breaks, first_chars, after_cr = 0, "", False
    with path.open("rb") as binary:
        while chunk := binary.read(_CHUNK_BYTES):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as error:
                good = error.object[: error.start].decode(plain_codec, errors="replace")
                line = line_breaks + _line_breaks(good, after_cr) + 1
                raise _not_encoded(encoding, line) from None
            if "\x00" in text:
                before = text[: text.index("\x00")]
                if len(first_chars) + len(before) < HEAD_BYTES:
                    raise not_a_table("a binary file (it contains NUL bytes)")
                line = line_breaks + _line_breaks(before, after_cr) + 1
                raise ImportFileError(f"line {line} contains a NUL character; remove it")
            line_breaks += _line_breaks(text, after_cr)
            after_cr = text.endswith("\r")
            first_chars += text[: HEAD_BYTES - len(first_chars)]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _not_encoded(encoding, line_breaks + 1) from None
    return line_breaks, first_chars


def _not_encoded(encoding: str, line: int) -> ImportFileError:
    name = "UTF-16" if encoding == "utf-16" else "UTF-8"
    return ImportFileError(f"the file is not {name} at line {line}; save the file as UTF-8")


def _line_breaks(text: str, after_cr: bool) -> int:
    """Line breaks as `csv` counts them: \\r\\n, \\n or a lone \\r each end one line."""
    count = text.count("\n") + text.count("\r") - text.count("\r\n")
    if after_cr and text.startswith("\n"):
        count -= 1  # the \r\n was split between two pieces and counted with the \r
    return count


def _delimiter(head: str) -> str:
    """The delimiter that occurs most often in the header line, outside quotes. The header
    is the right place to look: every column has a name, and names seldom hold , ; or tabs.
    (csv.Sniffer guesses from a sample and is often wrong on short or irregular files.)"""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in _BLANK_LINES.sub("", head):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in counts:
            counts[char] += 1
        elif char in "\r\n":
            break
    return max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
