"""Segments: saved filters marketing targets. Whoever may read contacts (or accounts) may
keep segments of them; a segment is seen, changed and deleted within the same reach as a
record with its owner and team, and its members are always those the caller can see."""

import uuid
from collections.abc import Mapping
from typing import Any

from crm_customer.domain.records import Record
from crm_customer.domain.segments import Segment
from crm_customer.usecases.kinds import KINDS, read_scopes
from crm_customer.usecases.pages import decode_id_token, id_page, page_limit
from crm_customer.usecases.ports import UnitOfWork
from crm_customer.usecases.records import list_records, typed_filter
from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import (
    NotFound,
    PermissionDenied,
    StaleVersion,
)
from crm_platform.ids import parse_uuid, uuid7


async def create_segment(
    *,
    uow: UnitOfWork,
    principal: Principal,
    name: str,
    entity: str,
    conditions: Mapping[str, Any],
) -> Segment:
    if entity in KINDS:
        principal.require(KINDS[entity].obj, Action.READ)
    segment = Segment.create(
        id=uuid7(),
        owner_id=principal.subject_id,
        team_id=principal.team_id,
        partner_id=principal.partner_id,
        name=name,
        entity=entity,
        filter=conditions,
    )
    async with uow:
        await uow.segments.add(segment)
        await uow.commit()
    return segment


async def get_segment(*, uow: UnitOfWork, principal: Principal, segment_id: str) -> Segment:
    async with uow:
        return await _visible(uow, principal, segment_id)


async def list_segments(
    *, uow: UnitOfWork, principal: Principal, page_size: int, page_token: str
) -> tuple[list[Segment], str]:
    limit = page_limit(page_size)
    after = decode_id_token(page_token)
    async with uow:
        found = await uow.segments.page(
            principal=principal, scopes=read_scopes(principal), after=after, limit=limit + 1
        )
    return id_page(found, limit)


async def update_segment(
    *,
    uow: UnitOfWork,
    principal: Principal,
    segment_id: str,
    expected_version: int,
    name: str | None = None,
    conditions: Mapping[str, Any] | None = None,
) -> Segment:
    async with uow:
        current = await _visible(uow, principal, segment_id)
        _require_reach(principal, current, Action.EDIT)
        _require_version(current, expected_version)
        updated = current.update(name=name, filter=conditions)
        if not await uow.segments.replace(updated, expected_version=expected_version):
            raise StaleVersion("segment was changed concurrently")
        await uow.commit()
    return updated


async def delete_segment(
    *, uow: UnitOfWork, principal: Principal, segment_id: str, expected_version: int
) -> None:
    async with uow:
        current = await _visible(uow, principal, segment_id)
        _require_reach(principal, current, Action.DELETE)
        _require_version(current, expected_version)
        if not await uow.segments.delete(current, expected_version=expected_version):
            raise StaleVersion("segment was changed concurrently")
        await uow.commit()


async def segment_members(
    *,
    uow: UnitOfWork,
    principal: Principal,
    segment_id: str,
    page_size: int,
    page_token: str,
    order_by: str = "",
) -> tuple[Segment, list[Record], str, int]:
    """The segment, one page of its members the caller can see, the next page's token and
    how many members there are in all."""
    segment = await get_segment(uow=uow, principal=principal, segment_id=segment_id)
    kind = KINDS[segment.entity]
    wanted = segment.conditions()
    members, token = await list_records(
        kind=kind,
        uow=uow,
        principal=principal,
        page_size=page_size,
        page_token=page_token,
        wanted=wanted,
        order_by=order_by,
    )
    async with uow:
        scope = principal.require(kind.obj, Action.READ)
        typed = await typed_filter(uow, segment.entity, wanted)
        total = await kind.repo(uow).count(principal=principal, scope=scope, wanted=typed)
    return segment, members, token, total


async def _visible(uow: UnitOfWork, principal: Principal, segment_id: str) -> Segment:
    parsed: uuid.UUID | None = parse_uuid(segment_id)
    segment = (
        await uow.segments.get(parsed, principal=principal, scopes=read_scopes(principal))
        if parsed
        else None
    )
    if segment is None:
        raise NotFound(f"segment {segment_id} not found")
    return segment


def _require_reach(principal: Principal, segment: Segment, action: Action) -> None:
    scope = principal.require(segment.obj, action)
    if not principal.reaches(
        scope, owner_id=segment.owner_id, team_id=segment.team_id, partner_id=segment.partner_id
    ):
        raise PermissionDenied(f"not allowed to {action.value} this segment")


def _require_version(segment: Segment, expected_version: int) -> None:
    if segment.version != expected_version:
        raise StaleVersion(f"segment is at version {segment.version}, not {expected_version}")
