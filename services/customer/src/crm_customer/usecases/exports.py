"""Exports: every record of a filter or a segment that the caller may both read and export.

Everything is checked before the first record is read (`plan_export`), so a bad request
fails before anything is streamed. The records then come as consecutive keyset pages of
`list_records`, each read by its own short query: no transaction stays open across the
export and nothing but one page is held, however slowly the client reads. Each record is
exported as it is when its page is read. In the default order (newest first, by the
time-ordered id, which never changes) no record is skipped or repeated; in an order by a
field that changes (name, updated_at, last_contacted_at), a record changed during the
export may cross the page boundary and be missed or exported twice.
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

from crm_customer.domain.records import INTERNAL_FIELDS, Record
from crm_customer.domain.search import Filter, parse_order
from crm_customer.usecases.kinds import KINDS
from crm_customer.usecases.pages import MAX_PAGE_SIZE
from crm_customer.usecases.ports import UnitOfWork
from crm_customer.usecases.records import RecordKind, list_records
from crm_customer.usecases.segments import get_segment
from crm_platform.auth.principal import Action, Principal, Scope
from crm_platform.errors import FieldViolation, InvalidArgument

EXPORT_PAGE_SIZE = MAX_PAGE_SIZE
# Where the fields every record has go among a kind's own ones (by default): id first,
# the rest after the kind's fields, so a file reads name first and still round-trips.
_LEADING = ("id",)
_TRAILING = (
    "owner_id",
    "team_id",
    "partner_id",
    "version",
    "created_at",
    "updated_at",
    "internal_notes",
)


@dataclass(frozen=True)
class ExportPlan:
    entity: str
    kind: RecordKind[Any]
    columns: tuple[str, ...]
    wanted: Filter
    order_by: str
    scope: Scope  # the reach of the export: the narrower of read and export


async def plan_export(
    *,
    uow: UnitOfWork,
    principal: Principal,
    entity: str,
    wanted: Filter | None = None,
    segment_id: str | None = None,
    columns: Sequence[str] = (),
    order_by: str = "",
) -> ExportPlan:
    """The export asked for, checked: PermissionDenied without the export permission,
    InvalidArgument for a bad entity, column or order, NotFound for an unknown segment."""
    kind = _kind(entity)
    scope = export_scope(principal, kind.obj)
    parse_order(order_by)
    chosen = export_columns(kind.record_type, principal, columns)
    if segment_id is not None:
        wanted = await _segment_conditions(uow, principal, segment_id, entity)
    return ExportPlan(entity, kind, chosen, wanted or Filter(), order_by, scope)


async def export_pages(
    *, plan: ExportPlan, uow: UnitOfWork, principal: Principal
) -> AsyncIterator[list[Any]]:
    """The planned records, page after page (none when there are none)."""
    token = ""
    while True:
        records, token = await list_records(
            kind=plan.kind,
            uow=uow,
            principal=principal,
            page_size=EXPORT_PAGE_SIZE,
            page_token=token,
            wanted=plan.wanted,
            order_by=plan.order_by,
            scope=plan.scope,
        )
        if records:
            yield records
        if not token:
            return


def export_scope(principal: Principal, obj: str) -> Scope:
    """Whom the caller may export records of: never beyond what they may read."""
    read = principal.require(obj, Action.READ)
    export = principal.require(obj, Action.EXPORT)
    order = list(Scope)  # narrowest first
    return min(read, export, key=order.index)


def export_columns(
    record_type: type[Record], principal: Principal, wanted: Sequence[str]
) -> tuple[str, ...]:
    """The columns asked for, checked; every field the caller may see when none are."""
    hidden = INTERNAL_FIELDS if principal.partner_id is not None else frozenset()
    known = default_columns(record_type)
    if not wanted:
        return tuple(name for name in known if name not in hidden)
    violations = []
    for index, name in enumerate(wanted):
        path = f"columns.{index}"
        if name not in known:
            violations.append(FieldViolation(path, f"{name!r} is not a field of this entity"))
        elif name in hidden:
            violations.append(FieldViolation(path, f"{name!r} is not exported to partners"))
        elif name in wanted[:index]:
            violations.append(FieldViolation(path, f"{name!r} is named twice"))
    if violations:
        raise InvalidArgument(violations)
    return tuple(wanted)


def default_columns(record_type: type[Record]) -> tuple[str, ...]:
    shared = {f.name for f in fields(Record)}
    own = tuple(f.name for f in fields(record_type) if f.name not in shared)
    return (*_LEADING, *own, *_TRAILING)


def _kind(entity: str) -> RecordKind[Any]:
    kind = KINDS.get(entity)
    if kind is None:
        raise InvalidArgument([FieldViolation("entity", "must be contacts or accounts")])
    return kind


async def _segment_conditions(
    uow: UnitOfWork, principal: Principal, segment_id: str, entity: str
) -> Filter:
    segment = await get_segment(uow=uow, principal=principal, segment_id=segment_id)
    if segment.entity != entity:
        why = f"is a segment of {segment.entity}, not of {entity}"
        raise InvalidArgument([FieldViolation("segment_id", why)])
    return segment.conditions()
