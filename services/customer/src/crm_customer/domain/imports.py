"""Import jobs: what an upload asks for, how far it got, and how a file's row becomes the
values of a record and the keys that find the record it repeats."""

import datetime as dt
import enum
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_customer.domain.contacts import Contact
from crm_customer.domain.records import without_own_in_others
from crm_customer.domain.values import address as valid_address
from crm_platform.errors import FieldViolation, InvalidArgument

MAX_MAPPED_COLUMNS = 200


class Mode(enum.StrEnum):
    # Rows repeating an earlier row or an existing record (same email or phone; for
    # accounts same name or phone) are skipped.
    CREATE = "create"
    # ... merged into the record they repeat.
    UPSERT = "upsert"
    # ... skipped, and so are rows the duplicate rules find likely (similar name at the
    # same company), as creating one by hand reports them.
    SKIP_DUPLICATES = "skip_duplicates"


class Status(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Outcome(enum.StrEnum):
    FAILED = "failed"
    SKIPPED = "skipped"


ENTITIES = ("contacts", "accounts")


@dataclass(frozen=True)
class ImportSpec:
    entity: str
    mode: Mode
    default_region: str | None
    dry_run: bool
    mapping: dict[str, str]
    file_name: str

    @classmethod
    def parse(
        cls,
        *,
        entity: str,
        mode: str,
        default_region: str,
        dry_run: bool,
        mapping: Mapping[str, str],
        file_name: str,
    ) -> "ImportSpec":
        violations = []
        if entity not in ENTITIES:
            violations.append(FieldViolation("entity", "must be contacts or accounts"))
        modes = ", ".join(m.value for m in Mode)
        if (mode or Mode.CREATE) not in set(Mode):
            violations.append(FieldViolation("mode", f"must be one of {modes}"))
        if len(mapping) > MAX_MAPPED_COLUMNS:
            violations.append(
                FieldViolation("mapping", f"must map at most {MAX_MAPPED_COLUMNS} columns")
            )
        if any("\x00" in text for pair in mapping.items() for text in pair):
            violations.append(FieldViolation("mapping", "must not contain NUL characters"))
        if len(file_name) > 255:
            violations.append(FieldViolation("file_name", "must be at most 255 characters"))
        if violations:
            raise InvalidArgument(violations)
        return cls(
            entity=entity,
            mode=Mode(mode or Mode.CREATE),
            default_region=default_region.upper() or None,
            dry_run=dry_run,
            mapping=dict(mapping),
            file_name=_printable(file_name) or "upload",
        )

    @property
    def obj(self) -> str:
        """The permission object of the records the import writes."""
        return self.entity.removesuffix("s")


@dataclass
class Progress:
    total: int = 0
    processed: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0

    def add(self, other: "Progress") -> None:
        self.processed += other.processed
        self.created += other.created
        self.updated += other.updated
        self.skipped += other.skipped
        self.failed += other.failed


@dataclass(frozen=True)
class ImportJob:
    id: uuid.UUID
    spec: ImportSpec
    status: Status
    owner_id: uuid.UUID
    team_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    # The starter's rights, signed claims as the gateway gave them (crm_platform.auth).
    principal: dict[str, Any]
    created_at: dt.datetime
    progress: Progress = field(default_factory=Progress)
    error: str = ""
    headers: tuple[str, ...] = ()  # the file's
    ignored_columns: tuple[str, ...] = ()
    finished_at: dt.datetime | None = None


@dataclass(frozen=True)
class Problem:
    line: int
    outcome: Outcome
    reason: str
    cells: list[str]


# Import fields that are not the record's own, and where they go.
_CONTACT_MOVES = {"mobile": "other_phones", "notes": "internal_notes"}
_CUSTOM = "custom_fields."  # a column mapped to a custom field
_ADDRESS_FIELDS = ("street", "city", "region", "postal_code", "country")


def record_values(entity: str, values: Mapping[str, object]) -> dict[str, Any]:
    """The values of a contact or account from an import row's normalized values; a
    contact's `company` stays for the caller to resolve to an account."""
    result: dict[str, Any] = {}
    address: dict[str, Any] = {}
    for name, value in values.items():
        if name == "external_id" or name.startswith(_CUSTOM):
            custom = result.setdefault("custom_fields", {})
            custom[name.removeprefix(_CUSTOM)] = value
        elif name in _ADDRESS_FIELDS:
            address[name] = value
        elif entity == "accounts" and name == "size":
            result["employees"] = value
        elif entity == "contacts" and name in _CONTACT_MOVES:
            target = _CONTACT_MOVES[name]
            result[target] = (value,) if target == "other_phones" else value
        else:
            result[name] = value
    if address:
        result["addresses"] = (_address(address),)
    return result


def _address(parts: dict[str, Any]) -> Any:
    """As the record will hold it (kind, country's case), so that an upsert tells an
    address the record has from a new one; as given when invalid, for the record's check
    to name what is wrong."""
    try:
        return valid_address(parts)
    except ValueError:
        return parts


def duplicate_keys(entity: str, values: Mapping[str, Any]) -> list[str]:
    """What makes two rows, or a row and a record, the same: a contact's email or any of
    its phones; an account's name (case and spacing aside) or phone."""
    keys = []
    if entity == "contacts":
        emails = (values.get("email"), *values.get("other_emails", ()))
        keys += [f"email:{e}" for e in emails if e]
        keys += [f"phone:{p}" for p in (values.get("phone"), *values.get("other_phones", ())) if p]
    else:
        if values.get("name"):
            keys.append(f"name:{name_key(values['name'])}")
        if values.get("phone"):
            keys.append(f"phone:{values['phone']}")
    return keys


def name_key(name: str) -> str:
    return " ".join(name.lower().split())


def merged_values(current: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """What an upsert changes on the record a row repeats: the row's values win, except
    that a different email or phone is kept beside the record's own, and tags add up."""
    changes: dict[str, Any] = {}
    for name, value in incoming.items():
        old = current.get(name)
        if name in ("email", "phone") and old and value != old:
            others = f"other_{name}s"
            kept = changes.get(others, tuple(current.get(others, ())))
            if value not in kept:
                changes[others] = (*kept, value)
        elif name in ("tags", "other_phones", "other_emails", "addresses"):
            kept = changes.get(name, tuple(current.get(name, ())))
            changes[name] = (*kept, *(v for v in value if v not in kept))
        elif name == "custom_fields":
            changes[name] = {**(current.get(name) or {}), **value}
        else:
            changes[name] = value
    changes = without_own_in_others(Contact.OTHERS, current.get, changes)  # accounts' too
    return {name: value for name, value in changes.items() if current.get(name) != value}


def _printable(name: str) -> str:
    """A file's name is only a label: control characters a client sent in it (NUL, which
    PostgreSQL cannot store, line breaks) are dropped rather than refused, and so are the
    bidirectional overrides that make "cod.exe" show as "exe.doc"."""
    return "".join(
        char for char in name if unicodedata.category(char) != "Cc" and char not in _BIDI_CONTROLS
    )


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
