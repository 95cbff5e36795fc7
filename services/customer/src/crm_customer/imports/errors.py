"""The one error of reading an import file: the whole file cannot be imported."""

from crm_platform.errors import DomainError


class ImportFileError(DomainError):
    """The file as a whole is unusable (not CSV or XLSX, wrong encoding, no rows, a mapping
    that names unknown fields); the message says why in words meant for the uploader.
    Problems of single rows are not errors: they come back with the row."""
