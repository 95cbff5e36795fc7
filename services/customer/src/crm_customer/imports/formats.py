"""What kind of file an upload is, judged by its first bytes: names and extensions lie
(an export saved as `.csv` that is really XLSX, a PNG renamed by mistake)."""

import enum
import zipfile
from pathlib import Path

from crm_customer.imports.errors import ImportFileError

# How many bytes decide the format; also the window searched for NUL bytes.
HEAD_BYTES = 64 * 1024

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


Record = tuple[int, list[str]]  # the line (CSV) or row (XLSX) a record starts on, its cells


class Format(enum.Enum):
    CSV_UTF8 = "csv-utf8"
    CSV_UTF16 = "csv-utf16"
    XLSX = "xlsx"


# Magic numbers of files people upload by mistake, and what to call them in the message.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls or a password-protected file"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "a program"),
    (b"MZ\x90\x00", "a program"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"BZh91AY&SY", "a bzip2 archive"),
)
# Text formats that are not tables; lower-case, compared after the BOM and leading blanks.
_TEXT_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"<?xml", "an XML document"),
    (b"<!doctype html", "a web page"),
    (b"<html", "a web page"),
    (b"{\\rtf", "an RTF document"),
)


def detect(path: Path, head: bytes) -> Format:
    """The format of the file at `path` whose first bytes are `head`, or ImportFileError."""
    if head.startswith(b"PK\x03\x04"):
        return _zip_format(path)
    if head.startswith(UTF16_BOMS):
        return Format.CSV_UTF16
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            raise not_a_table(kind)
    text_start = head.removeprefix(UTF8_BOM).lstrip()[:16].lower()
    for magic, kind in _TEXT_MAGIC:
        if text_start.startswith(magic):
            raise not_a_table(kind)
    if b"\x00" in head:
        raise not_a_table("a binary file (it contains NUL bytes)")
    return Format.CSV_UTF8


def not_a_table(kind: str) -> ImportFileError:
    return ImportFileError(f"the file is not CSV or XLSX: it is {kind}; save it as CSV or XLSX")


def _zip_format(path: Path) -> Format:
    """XLSX is a ZIP archive; so are Word files, OpenDocument sheets and plain archives.
    Only the central directory is read, never the members."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise not_a_table("a damaged ZIP archive") from None
    if "xl/workbook.xml" in names:
        return Format.XLSX
    if "xl/workbook.bin" in names:
        raise not_a_table("an Excel binary workbook (.xlsb)")
    if "word/document.xml" in names:
        raise not_a_table("a Word document")
    if "ppt/presentation.xml" in names:
        raise not_a_table("a PowerPoint presentation")
    if "content.xml" in names and "mimetype" in names:
        raise not_a_table("an OpenDocument file")
    raise not_a_table("a ZIP archive")
