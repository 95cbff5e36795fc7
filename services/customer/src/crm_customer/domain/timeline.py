"""The 360° timeline of an account: one entry per event another service (or this one)
published about it. Entries are facts as they were published, never edited."""

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from crm_customer.domain.records import INTERNAL_FIELDS
from crm_platform.errors import FieldViolation, InvalidArgument

# ERP documents carry ERP prices, which partners never see (DESIGN §7): a partner's
# timeline leaves these kinds out altogether.
INTERNAL_KINDS = frozenset({"erp_order", "erp_invoice"})
MAX_KINDS_ASKED = 20
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class TimelineEntry:
    id: uuid.UUID  # the event's id
    account_id: uuid.UUID
    occurred_at: dt.datetime
    source: str  # the publishing service, e.g. "sales"
    event_type: str  # the full proto name
    kind: str  # opportunity, activity, quote, ticket, contact, ...
    subject_id: str  # the aggregate the event is about
    title: str
    data: dict[str, Any]

    def seen_by_partner(self) -> "TimelineEntry":
        """The entry without the internal fields of the records it carries."""
        return replace(self, data=_without_internal_fields(self.data))


def check_kinds(kinds: Iterable[str]) -> frozenset[str]:
    """The kinds a timeline is filtered by. Any well-formed kind may be asked for: new event
    types bring new kinds, which simply match nothing until they arrive."""
    wanted = frozenset(kinds)
    if len(wanted) > MAX_KINDS_ASKED:
        raise InvalidArgument([FieldViolation("kinds", f"at most {MAX_KINDS_ASKED} kinds")])
    bad = sorted(kind for kind in wanted if not _KIND.match(kind))
    if bad:
        raise InvalidArgument([FieldViolation("kinds", f"not a kind: {bad[0]!r}")])
    return wanted


def _without_internal_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_internal_fields(item)
            for key, item in value.items()
            # Kept with proto field names, but a nested Struct may hold JSON (camelCase) ones.
            if snake_case(key) not in INTERNAL_FIELDS
        }
    if isinstance(value, list):
        return [_without_internal_fields(item) for item in value]
    return value


def snake_case(name: str) -> str:
    """`internalNotes` -> `internal_notes`, `ContactCreated` -> `contact_created`."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
