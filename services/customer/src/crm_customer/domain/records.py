"""What accounts and contacts have in common: identity, ownership, version and change rules."""

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import partial
from typing import Any, ClassVar, Self, TypeVar

from crm_customer.domain import fields as rule
from crm_customer.domain.fields import FieldChange, Validator, validate
from crm_platform.errors import FieldViolation, InvalidArgument

# Fields every record has besides its own.
SHARED_RULES: Mapping[str, Validator] = {
    "partner_id": rule.optional_id,
    "internal_notes": rule.text(5000),
}
# Changing these hands the record to someone else: the transfer permission, never on create.
TRANSFER_RULES: Mapping[str, Validator] = {
    "owner_id": rule.required_id,
    "team_id": rule.optional_id,
}
# Never shown to, nor written by, partner callers (DESIGN §7 field-level rules).
INTERNAL_FIELDS = frozenset({"internal_notes"})
# A partner may not re-link a record to another partner either.
NOT_FOR_PARTNERS = INTERNAL_FIELDS | {"partner_id"}


@dataclass(frozen=True)
class RecordEvent:
    """A fact about a record, published by the events layer after commit-safe storage."""

    kind: str  # "created", "updated", "deleted", "owner_changed" or "merged"
    record: "Record"
    changes: tuple[FieldChange, ...] = ()
    # Of "merged": the record merged into `record` (the survivor), now deleted.
    duplicate: "Record | None" = None


def ownership_change(event: RecordEvent) -> RecordEvent | None:
    """The "owner_changed" fact within an update that hands the record to another owner
    and/or team; None for any other event."""
    handed_over = tuple(c for c in event.changes if c.field in TRANSFER_RULES)
    if event.kind != "updated" or not handed_over:
        return None
    return RecordEvent("owner_changed", event.record, handed_over)


@dataclass(frozen=True)
class Record:
    RULES: ClassVar[Mapping[str, Validator]] = {}
    REQUIRED_ANY: ClassVar[tuple[str, ...]] = ()
    # Fields kept as JSON, with the type of their value (of each entry, for tuples).
    STORED_AS_JSON: ClassVar[Mapping[str, type]] = {}
    # Lists of a primary field's other values (other_emails: email).
    OTHERS: ClassVar[Mapping[str, str]] = {}

    id: uuid.UUID
    owner_id: uuid.UUID
    team_id: uuid.UUID | None
    version: int = 1
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    updated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    partner_id: uuid.UUID | None = None
    # None only in a copy meant for a caller who may not see internal fields.
    internal_notes: str | None = ""

    @classmethod
    def creatable(cls) -> Mapping[str, Validator]:
        if (rules := _CREATABLE.get(cls)) is None:
            rules = _CREATABLE[cls] = {**cls.RULES, **SHARED_RULES}
        return rules

    @classmethod
    def updatable(cls) -> Mapping[str, Validator]:
        if (rules := _UPDATABLE.get(cls)) is None:
            rules = _UPDATABLE[cls] = {**cls.RULES, **SHARED_RULES, **TRANSFER_RULES}
        return rules

    @classmethod
    def create(
        cls,
        *,
        id: uuid.UUID,
        owner_id: uuid.UUID,
        team_id: uuid.UUID | None,
        values: Mapping[str, Any],
    ) -> tuple[Self, RecordEvent]:
        now = dt.datetime.now(dt.UTC)
        record = cls(
            id=id,
            owner_id=owner_id,
            team_id=team_id,
            created_at=now,
            updated_at=now,
            **without_own_in_others(cls.OTHERS, _nothing_yet, validate(cls.creatable(), values)),
        )
        record.check()
        return record, RecordEvent("created", record)

    def update(self, values: Mapping[str, Any]) -> tuple[Self, RecordEvent | None]:
        """The record after applying `values`, and the event; no event when nothing changed."""
        cleaned = without_own_in_others(
            self.OTHERS, partial(getattr, self), validate(self.updatable(), values)
        )
        changes = tuple(
            FieldChange(name, getattr(self, name), new)
            for name, new in cleaned.items()
            if getattr(self, name) != new
        )
        if not changes:
            return self, None
        updated = replace(
            self,
            **cleaned,
            version=self.version + 1,
            updated_at=dt.datetime.now(dt.UTC),
        )
        updated.check()
        return updated, RecordEvent("updated", updated, changes)

    def delete(self) -> tuple[Self, RecordEvent]:
        deleted = replace(self, version=self.version + 1, updated_at=dt.datetime.now(dt.UTC))
        return deleted, RecordEvent("deleted", deleted)

    def without_internal_fields(self) -> Self:
        hidden: dict[str, Any] = dict.fromkeys(INTERNAL_FIELDS)
        return replace(self, **hidden)

    def check(self) -> None:
        """Rules over several fields, run after every create and update."""
        if self.REQUIRED_ANY and not any(getattr(self, name) for name in self.REQUIRED_ANY):
            names = " or ".join(self.REQUIRED_ANY)
            raise InvalidArgument([FieldViolation(self.REQUIRED_ANY[0], f"{names} is required")])

    def snapshot(self) -> dict[str, Any]:
        names = _FIELD_NAMES.get(type(self))
        if names is None:
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in fields(self))
        return {name: getattr(self, name) for name in names}


# dataclasses.fields() costs more than the copy itself, once per record of an import; so
# do the merged rules, once per record created or changed.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_CREATABLE: dict[type, Mapping[str, Validator]] = {}
_UPDATABLE: dict[type, Mapping[str, Validator]] = {}


R = TypeVar("R", bound=Record)


def without_own_in_others(
    others: Mapping[str, str], current: Callable[[str, Any], Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """`changes`, such that a record's own email or phone is not also among its others
    (`others`: list field -> primary field) once they are applied to the record whose
    values `current(name, default)` reads: one way of reaching someone is listed once,
    whichever of the two fields a change names."""
    tidied = dict(changes)
    for listed, primary in others.items():
        if listed not in changes and primary not in changes:
            continue
        own = tidied.get(primary, current(primary, ""))
        kept = tuple(tidied.get(listed, current(listed, ())))
        if own and own in kept:
            tidied[listed] = tuple(value for value in kept if value != own)
    return tidied


def _nothing_yet(name: str, default: Any) -> Any:
    """What a record being created holds before its values: nothing."""
    return default


def changed_values(before: Record, after: Record) -> dict[str, Any]:
    """The updatable fields `after` holds otherwise than `before`, as `after` holds them."""
    old, new = before.snapshot(), after.snapshot()
    return {name: new[name] for name in before.updatable() if old.get(name) != new.get(name)}
