"""Merging a duplicate into the record that survives it, field by field; pure functions the
use case (usecases/merge.py) stores the outcome of.

Per field the caller may choose whose value is kept: "survivor" or "duplicate". Without a
choice the survivor's value is kept, or the duplicate's where the survivor's is empty; lists
are unioned without repeats, the survivor's entries first; consents keep the latest per
channel; custom fields keep every name, with the survivor's value where both have one. A
primary value that does not survive (an email, a phone, a contact's account) moves into the
list of its kind (other_emails, other_phones, account_roles): no way of reaching the
customer is lost.
"""

import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crm_customer.domain import values as value
from crm_customer.domain.contacts import Contact
from crm_customer.domain.records import INTERNAL_FIELDS, Record
from crm_customer.domain.values import AccountRole
from crm_platform.errors import FieldViolation, InvalidArgument

SURVIVOR = "survivor"
DUPLICATE = "duplicate"
CHOICES = (SURVIVOR, DUPLICATE)


def _same(entry: Any) -> Any:
    return entry


@dataclass(frozen=True)
class _Secondary:
    """The list keeping the other values of a primary field's kind."""

    field: str
    entry: Callable[[Any], Any]  # the primary value as an entry of the list
    key: Callable[[Any], Any] = _same  # what makes two entries the same


_SECONDARY: Mapping[str, _Secondary] = {
    "email": _Secondary("other_emails", _same),
    "phone": _Secondary("other_phones", _same),
    "account_id": _Secondary("account_roles", AccountRole, lambda role: role.account_id),
}
_SECONDARY_FIELDS = frozenset(s.field for s in _SECONDARY.values())


def mergeable_fields(record_type: type[Record], *, internal: bool) -> tuple[str, ...]:
    """What a merge settles, in the record's order: its own fields, and the internal ones
    when the caller may see them. Ownership stays the survivor's (a transfer is a separate,
    audited act)."""
    return (*record_type.RULES, *(sorted(INTERNAL_FIELDS) if internal else ()))


def check_choices(choices: Mapping[str, str], fields: Collection[str]) -> None:
    violations = [
        FieldViolation(f"fields.{name}", why)
        for name, choice in choices.items()
        if (why := _choice_problem(name, choice, fields))
    ]
    if violations:
        raise InvalidArgument(violations)


def _choice_problem(name: str, choice: str, fields: Collection[str]) -> str:
    if name not in fields:
        return "is not a field a merge can settle"
    if choice not in CHOICES:
        return f"must be {' or '.join(CHOICES)}"
    return ""


def merged_values(
    survivor: Record,
    duplicate: Record,
    *,
    fields: Collection[str],
    choices: Mapping[str, str],
) -> dict[str, Any]:
    """The values that make `survivor` the merge of both records: only those that differ
    from its own, ready for `survivor.update`."""
    check_choices(choices, fields)
    merged = {
        name: _merged(getattr(survivor, name), getattr(duplicate, name), name, choices.get(name))
        for name in fields
        if name not in _SECONDARY_FIELDS
    }
    for primary, secondary in _SECONDARY.items():
        if secondary.field in fields:
            sources = _secondary_sources(survivor, duplicate, primary, choices.get(secondary.field))
            merged[secondary.field] = _without(sources, merged[primary], secondary.key)
    if "parent_id" in merged:
        merged["parent_id"] = _parent(merged["parent_id"], survivor, duplicate)
    return {name: merged[name] for name in fields if getattr(survivor, name) != merged[name]}


def _merged(mine: Any, theirs: Any, name: str, choice: str | None) -> Any:
    if choice is not None:
        return mine if choice == SURVIVOR else theirs
    if name == "consents":
        # The validator keeps the latest consent per channel; listed last, the survivor's
        # wins a tie.
        return value.consents((*theirs, *mine))
    if isinstance(mine, tuple):
        return _without((*mine, *theirs), None)
    if isinstance(mine, dict):
        return {**theirs, **mine}
    return mine if _filled(mine) else theirs


def _filled(found: Any) -> bool:
    # 0 is how a count reads when unknown (an account's employees).
    return found is not None and found != "" and found != 0


def _secondary_sources(
    survivor: Record, duplicate: Record, primary: str, choice: str | None
) -> list[Any]:
    """The entries a secondary list is made of: one record's when chosen, else both
    records' primaries and lists, the survivor's first."""
    secondary = _SECONDARY[primary]
    chosen = {SURVIVOR: (survivor,), DUPLICATE: (duplicate,)}.get(choice or "")
    if chosen is not None:
        return list(getattr(chosen[0], secondary.field))
    found: list[Any] = []
    for record in (survivor, duplicate):
        own = getattr(record, primary)
        found += [secondary.entry(own)] if own else []
        found += getattr(record, secondary.field)
    return found


def _without(
    entries: Iterable[Any], primary: Any, key: Callable[[Any], Any] = _same
) -> tuple[Any, ...]:
    """`entries` without repeats (the first of each kept) and without the primary value."""
    first: dict[Any, Any] = {}
    for entry in entries:
        if key(entry) != primary:
            first.setdefault(key(entry), entry)
    return tuple(first.values())


def _parent(chosen: uuid.UUID | None, survivor: Record, duplicate: Record) -> uuid.UUID | None:
    """An account never becomes its own parent, nor the child of the account it absorbs."""
    if chosen == duplicate.id:
        chosen = getattr(duplicate, "parent_id", None)
    return None if chosen == survivor.id else chosen


def repointed_contact(
    contact: Contact, gone_id: uuid.UUID, survivor_id: uuid.UUID | None
) -> dict[str, Any]:
    """The values that move `contact` from an account gone (merged away, or deleted: no
    survivor) to its survivor: its account, and its role there. A role at the survivor the
    contact holds already is the one it keeps; without a survivor the role goes."""
    account_id = survivor_id if contact.account_id == gone_id else contact.account_id
    held = any(role.account_id == survivor_id for role in contact.account_roles)
    roles = []
    for role in contact.account_roles:
        if role.account_id != gone_id:
            roles.append(role)
        elif survivor_id is not None and not held:
            roles.append(AccountRole(survivor_id, role.role))
    found = {
        "account_id": account_id,
        "account_roles": _without(roles, account_id, _SECONDARY["account_id"].key),
    }
    return {name: new for name, new in found.items() if getattr(contact, name) != new}
