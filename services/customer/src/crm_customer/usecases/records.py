"""The commands and queries of every customer record (accounts, contacts), written once;
each aggregate's module declares its `RecordKind`: name, type, repository, references."""

import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic

from crm_customer.domain.duplicates import Match
from crm_customer.domain.records import (
    NOT_FOR_PARTNERS,
    TRANSFER_RULES,
    R,
    RecordEvent,
    ownership_change,
)
from crm_customer.domain.search import Cursor, Filter, parse_order
from crm_customer.usecases.custom_fields import typed_custom_values
from crm_customer.usecases.pages import decode_page_token, encode_page_token, page_limit
from crm_customer.usecases.ports import RecordRepository, UnitOfWork
from crm_platform.auth.principal import Action, Principal, Scope
from crm_platform.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    StaleVersion,
)
from crm_platform.ids import parse_uuid, uuid7


def _one_id(value: Any) -> Iterable[uuid.UUID]:
    return () if value is None else (value,)


@dataclass(frozen=True)
class Reference:
    """A field holding ids of other records, which the caller must be able to see."""

    field: str
    obj: str
    repo: Callable[[UnitOfWork], RecordRepository[Any]]
    ids: Callable[[Any], Iterable[uuid.UUID]] = _one_id


@dataclass(frozen=True)
class RecordKind(Generic[R]):
    obj: str  # the permission object, e.g. "account"
    record_type: type[R]
    repo: Callable[[UnitOfWork], RecordRepository[R]]
    references: tuple[Reference, ...] = ()
    # The duplicate rules: which of the candidates are likely the record, and why; and the
    # groups among which such candidates are found (domain/duplicates.py lookalike_groups).
    duplicates: Callable[[R, list[R]], list[Match]] | None = None
    lookalikes: Callable[[R], list[str]] = lambda _record: []
    # What a change must keep true among records of the kind (accounts: no cycle of
    # parents), checked before it is stored; given the record as changed and the fields set.
    check_links: Callable[[UnitOfWork, R, Collection[str]], Awaitable[None]] | None = None
    # What follows a record's deletion (accounts: the records pointing at it let go), as
    # the events of the changes it made, in the deletion's transaction.
    on_delete: Callable[[UnitOfWork, R], Awaitable[list[RecordEvent]]] | None = None

    @property
    def entity(self) -> str:
        """As the API names it: "contacts"."""
        return f"{self.obj}s"


@dataclass(frozen=True)
class Created(Generic[R]):
    record: R
    likely_duplicates: list[Match]


MAX_DUPLICATES_REPORTED = 10
_CANDIDATES = 200


async def create_record(
    *, kind: RecordKind[R], uow: UnitOfWork, principal: Principal, values: Mapping[str, Any]
) -> Created[R]:
    """The new record, and the visible records it likely repeats (created regardless: the
    caller decides, e.g. by merging)."""
    principal.require(kind.obj, Action.CREATE)
    # Empty values are what an unset proto field reads as: only real ones count as sent.
    check_writable(kind, principal, [name for name, value in values.items() if value])
    if principal.partner_id is not None:  # what a partner creates stays in its sight
        values = {**values, "partner_id": principal.partner_id}
    async with uow:
        values = await typed_custom_values(uow, kind.entity, values, creating=True)
        record, event = kind.record_type.create(
            id=uuid7(), owner_id=principal.subject_id, team_id=principal.team_id, values=values
        )
        await _check_references(kind, uow, principal, record, changed=values.keys())
        await kind.repo(uow).add(record)
        duplicates = await _likely_duplicates(kind, uow, principal, record)
        uow.record(event, actor_id=principal.subject_id)
        await uow.commit()
    return Created(seen_by(principal, record), duplicates)


async def _likely_duplicates(
    kind: RecordKind[R], uow: UnitOfWork, principal: Principal, record: R
) -> list[Match]:
    scope = principal.scope(kind.obj, Action.READ)
    if kind.duplicates is None or scope is None:
        return []
    candidates = await kind.repo(uow).look_alikes(
        record, principal=principal, scope=scope, limit=_CANDIDATES
    )
    return kind.duplicates(record, candidates)[:MAX_DUPLICATES_REPORTED]


async def get_record(
    *, kind: RecordKind[R], uow: UnitOfWork, principal: Principal, record_id: str
) -> R:
    async with uow:
        return seen_by(principal, await visible(kind, kind.repo(uow), principal, record_id))


async def update_record(
    *,
    kind: RecordKind[R],
    uow: UnitOfWork,
    principal: Principal,
    record_id: str,
    expected_version: int,
    values: Mapping[str, Any],
) -> R:
    check_writable(kind, principal, values)
    async with uow:
        repo = kind.repo(uow)
        current = await visible(kind, repo, principal, record_id)
        require_reach(kind, principal, Action.EDIT, current)
        if TRANSFER_RULES.keys() & values.keys():
            require_reach(kind, principal, Action.TRANSFER, current)
        require_version(kind, current, expected_version)
        typed = await typed_custom_values(uow, kind.entity, values, creating=False)
        updated, event = current.update(typed)
        if event is None:
            return seen_by(principal, current)
        # The hierarchy's lock before the references' row locks, in the order every
        # writer of parents takes them: two accounts put under each other must not deadlock.
        if kind.check_links is not None:
            await kind.check_links(uow, updated, values.keys())
        await _check_references(kind, uow, principal, updated, changed=values.keys())
        if not await repo.replace(updated, expected_version=expected_version):
            raise StaleVersion(f"{kind.obj} was changed concurrently")
        uow.record(event, actor_id=principal.subject_id)
        if (handed_over := ownership_change(event)) is not None:
            uow.record(handed_over, actor_id=principal.subject_id)
        await uow.commit()
    return seen_by(principal, updated)


async def delete_record(
    *,
    kind: RecordKind[R],
    uow: UnitOfWork,
    principal: Principal,
    record_id: str,
    expected_version: int,
) -> None:
    async with uow:
        repo = kind.repo(uow)
        current = await visible(kind, repo, principal, record_id)
        require_reach(kind, principal, Action.DELETE, current)
        require_version(kind, current, expected_version)
        deleted, event = current.delete()
        if not await repo.delete(deleted, expected_version=expected_version):
            raise StaleVersion(f"{kind.obj} was changed concurrently")
        events = [event, *(await kind.on_delete(uow, deleted) if kind.on_delete else ())]
        for each in events:
            uow.record(each, actor_id=principal.subject_id)
        await uow.commit()


def seen_by(principal: Principal, record: R) -> R:
    """The record as `principal` may see it: partners never see internal fields."""
    return record.without_internal_fields() if principal.partner_id is not None else record


async def list_records(
    *,
    kind: RecordKind[R],
    uow: UnitOfWork,
    principal: Principal,
    page_size: int,
    page_token: str,
    wanted: Filter | None = None,
    order_by: str = "",
    scope: Scope | None = None,
) -> tuple[list[R], str]:
    """One page of visible records meeting `wanted`, in the order asked for (newest first by
    default), and the next page's token ("" at the end). Visible: within the caller's read
    scope, or within `scope` when one is given (an export's, narrower)."""
    if scope is None:
        scope = principal.require(kind.obj, Action.READ)
    limit = page_limit(page_size)
    order = parse_order(order_by)
    after = decode_page_token(page_token, order) if page_token else None
    async with uow:
        found = await kind.repo(uow).page(
            principal=principal,
            scope=scope,
            wanted=await typed_filter(uow, kind.entity, wanted or Filter()),
            order=order,
            after=after,
            limit=limit + 1,
        )
    records = [seen_by(principal, record) for record, _ in found[:limit]]
    if len(found) <= limit:
        return records, ""
    last, sort_value = found[limit - 1]
    return records, encode_page_token(order, Cursor(sort_value, last.id))


async def typed_filter(uow: UnitOfWork, entity: str, wanted: Filter) -> Filter:
    """`wanted` with the values of defined custom fields read as a write reads them ("1,200"
    is 1200, "silver" the option Silver, "yes" true), so a filter finds what was stored; a
    value the field's type refuses is an InvalidArgument naming it."""
    if not wanted.custom_fields:
        return wanted
    definitions = await uow.custom_fields.of(entity)
    typed: dict[str, Any] = {}
    problems = []
    for name, value in wanted.custom_fields.items():
        try:
            typed[name] = definitions[name].read(value) if name in definitions else value
        except ValueError as error:
            problems.append(FieldViolation(f"filter.custom_fields.{name}", str(error)))
    if problems:
        raise InvalidArgument(problems)
    return replace(wanted, custom_fields=typed)


async def visible(
    kind: RecordKind[R],
    repo: RecordRepository[R],
    principal: Principal,
    record_id: str,
    *,
    for_update: bool = False,
) -> R:
    """The record if the caller may read it; NotFound otherwise, as if it did not exist,
    naming the record it was merged into when the caller could see it before."""
    scope = principal.require(kind.obj, Action.READ)
    parsed = parse_uuid(record_id)
    if parsed is None:
        raise NotFound(f"{kind.obj} {record_id} not found")
    record = await repo.get(parsed, principal=principal, scope=scope, for_update=for_update)
    if record is None:
        survivor = await repo.merged_into(parsed, principal=principal, scope=scope)
        if survivor is not None:
            why = f"{kind.obj} {record_id} was merged into {survivor}"
            raise NotFound(why, merged_into=str(survivor))
        raise NotFound(f"{kind.obj} {record_id} not found")
    return record


def check_writable(kind: RecordKind[R], principal: Principal, names: Iterable[str]) -> None:
    """Fields the caller may not set at all are a bad request, whatever the record."""
    violations = []
    for name in names:
        if principal.partner_id is not None and name in NOT_FOR_PARTNERS:
            violations.append(FieldViolation(name, "is not writable by partners"))
        elif name in TRANSFER_RULES and principal.scope(kind.obj, Action.TRANSFER) is None:
            violations.append(FieldViolation(name, "needs the transfer permission"))
    if violations:
        raise InvalidArgument(violations)


def require_reach(kind: RecordKind[R], principal: Principal, action: Action, record: R) -> None:
    """PermissionDenied unless the caller may do `action` to this (visible) record."""
    scope = principal.require(kind.obj, action)
    if not principal.reaches(
        scope, owner_id=record.owner_id, team_id=record.team_id, partner_id=record.partner_id
    ):
        raise PermissionDenied(f"not allowed to {action.value} this {kind.obj}")


def require_version(kind: RecordKind[R], record: R, expected_version: int) -> None:
    if record.version != expected_version:
        raise StaleVersion(f"{kind.obj} is at version {record.version}, not {expected_version}")


async def _check_references(
    kind: RecordKind[R], uow: UnitOfWork, principal: Principal, record: R, *, changed: Any
) -> None:
    """Every reference set by this change points at a record the caller can see."""
    for ref in kind.references:
        if ref.field not in changed:
            continue
        for target in ref.ids(getattr(record, ref.field)):
            scope = principal.require(ref.obj, Action.READ)
            # Shared-locked: a delete of the target under way is waited for (and then
            # refused here), one after this waits for the reference, then lets go of it.
            referenced = await ref.repo(uow).get(
                target, principal=principal, scope=scope, for_share=True
            )
            if referenced is None:
                raise InvalidArgument([FieldViolation(ref.field, f"no such {ref.obj}: {target}")])
