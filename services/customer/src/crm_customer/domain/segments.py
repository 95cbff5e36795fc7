"""Segments: named, saved filters over contacts or accounts. The filter is kept as asked
(a "not contacted for 30 days" segment means 30 days before each evaluation) and checked
by the same rules a search is."""

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from crm_customer.domain import fields as rule
from crm_customer.domain.search import Filter, parse_filter
from crm_platform.errors import FieldViolation, InvalidArgument

ENTITIES = ("contacts", "accounts")
_COMMON_FILTERS = frozenset(
    {"query", "phone", "region", "tags", "owner_id", "not_contacted_days", "custom_fields"}
)
# What each kind of record can be filtered on (accounts have no email nor company).
FILTER_FIELDS = {
    "contacts": _COMMON_FILTERS | {"email", "company"},
    "accounts": _COMMON_FILTERS | {"lifecycle"},
}


@dataclass(frozen=True)
class Segment:
    id: uuid.UUID
    name: str
    entity: str
    filter: dict[str, Any]
    owner_id: uuid.UUID
    team_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def obj(self) -> str:
        """The permission object of its members."""
        return self.entity.removesuffix("s")

    def conditions(self) -> Filter:
        """The filter as of now (relative conditions count from this moment)."""
        return parse_filter(**self.filter)

    @classmethod
    def create(
        cls,
        *,
        id: uuid.UUID,
        owner_id: uuid.UUID,
        team_id: uuid.UUID | None,
        partner_id: uuid.UUID | None,
        name: Any,
        entity: str,
        filter: Mapping[str, Any],
    ) -> "Segment":
        if entity not in ENTITIES:
            raise InvalidArgument([FieldViolation("entity", "must be contacts or accounts")])
        now = dt.datetime.now(dt.UTC)
        segment = cls(
            id=id,
            name=_name(name),
            entity=entity,
            filter=_checked_filter(filter, entity),
            owner_id=owner_id,
            team_id=team_id,
            partner_id=partner_id,
            version=1,
            created_at=now,
            updated_at=now,
        )
        return segment

    def update(self, *, name: Any = None, filter: Mapping[str, Any] | None = None) -> "Segment":
        return replace(
            self,
            name=self.name if name is None else _name(name),
            filter=self.filter if filter is None else _checked_filter(filter, self.entity),
            version=self.version + 1,
            updated_at=dt.datetime.now(dt.UTC),
        )


def _name(name: Any) -> str:
    try:
        return str(rule.text(200, required=True)(name))
    except ValueError as error:
        raise InvalidArgument([FieldViolation("name", str(error))]) from None


def _checked_filter(raw: Mapping[str, Any], entity: str) -> dict[str, Any]:
    """Only the conditions set; InvalidArgument (as `filter.<name>`) for bad ones."""
    kept = {name: value for name, value in raw.items() if value not in ("", 0, None, [], {})}
    unknown = sorted(set(kept) - FILTER_FIELDS[entity])
    if unknown:
        raise InvalidArgument(
            [FieldViolation(f"filter.{n}", f"is not a filter of {entity}") for n in unknown]
        )
    parse_filter(**kept)
    return kept
