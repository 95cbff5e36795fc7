"""The commands and queries accounts and contacts share; their own modules add the rules
that differ (which references must exist)."""

import base64
import uuid
from collections.abc import Mapping
from typing import Any

from crm_customer.usecases.ports import R, RecordRepository, UnitOfWork
from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    StaleVersion,
)
from crm_platform.ids import parse_uuid, uuid7

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


async def create(
    *,
    uow: UnitOfWork,
    repo: RecordRepository[R],
    record_type: type[R],
    obj: str,
    principal: Principal,
    values: Mapping[str, Any],
) -> R:
    principal.require(obj, Action.CREATE)
    record, event = record_type.create(
        id=uuid7(), owner_id=principal.subject_id, team_id=principal.team_id, values=values
    )
    await repo.add(record)
    uow.record(event, actor_id=principal.subject_id)
    return record


async def get(*, repo: RecordRepository[R], obj: str, principal: Principal, record_id: str) -> R:
    scope = principal.require(obj, Action.READ)
    parsed = parse_uuid(record_id)
    record = await repo.get(parsed, principal=principal, scope=scope) if parsed else None
    if record is None:
        raise NotFound(f"{obj} {record_id} not found")
    return record


async def update(
    *,
    uow: UnitOfWork,
    repo: RecordRepository[R],
    obj: str,
    principal: Principal,
    record_id: str,
    expected_version: int,
    values: Mapping[str, Any],
) -> R:
    current = await get(repo=repo, obj=obj, principal=principal, record_id=record_id)
    edit_scope = principal.require(obj, Action.EDIT)
    if not principal.reaches(edit_scope, owner_id=current.owner_id, team_id=current.team_id):
        raise PermissionDenied(f"not allowed to edit this {obj}")
    if current.version != expected_version:
        raise StaleVersion(f"{obj} is at version {current.version}, not {expected_version}")
    updated, event = current.update(values)
    if event is None:
        return current
    if not await repo.replace(updated, expected_version=expected_version):
        raise StaleVersion(f"{obj} was changed concurrently")
    uow.record(event, actor_id=principal.subject_id)
    return updated


async def page(
    *,
    repo: RecordRepository[R],
    obj: str,
    principal: Principal,
    page_size: int,
    page_token: str,
    filters: dict[str, Any] | None = None,
) -> tuple[list[R], str]:
    """One page of visible records and the token of the next page ("" at the end)."""
    scope = principal.require(obj, Action.READ)
    limit = page_size or DEFAULT_PAGE_SIZE
    if not 0 < limit <= MAX_PAGE_SIZE:
        raise InvalidArgument([FieldViolation("page_size", f"must be 1..{MAX_PAGE_SIZE}")])
    after = decode_page_token(page_token) if page_token else None
    records = await repo.page(
        principal=principal, scope=scope, after=after, limit=limit + 1, filters=filters or {}
    )
    if len(records) <= limit:
        return records, ""
    return records[:limit], encode_page_token(records[limit - 1].id)


def encode_page_token(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_page_token(token: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        raise InvalidArgument([FieldViolation("page_token", "is not a valid cursor")]) from None


async def require_visible(
    *, repo: RecordRepository[Any], obj: str, principal: Principal, field: str, record_id: Any
) -> None:
    """A reference to another record must point at one the caller can see."""
    if record_id is None:
        return
    scope = principal.require(obj, Action.READ)
    if await repo.get(record_id, principal=principal, scope=scope) is None:
        raise InvalidArgument([FieldViolation(field, f"no such {obj}")])
