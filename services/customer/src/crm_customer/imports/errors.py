"""The one error of reading an import file: the whole file cannot be imported."""

from crm_platform.errors import DomainError


class ImportFileError(DomainError):
    """The file as a whole is unusable (not CSV or XLSX, wrong encoding, no rows, a mapping
    that names unknown fields); the message says why in words meant for the uploader.
    Problems of single rows are not errors: they come back with the row. `field` is the
    part of the request at fault: the file, or the mapping given with it."""

    def __init__(self, message: str, *, field: str = "file") -> None:
        super().__init__(message)
        self.field = field
