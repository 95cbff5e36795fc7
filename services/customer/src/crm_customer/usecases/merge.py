"""Merging a duplicate record into the one that survives it, in one transaction: the
survivor takes the merged values (domain/merge.py), the duplicate is deleted and marked
merged into the survivor, and records pointing at a merged-away account follow it, as
does its 360° timeline."""

from collections.abc import Mapping

from crm_customer.domain.merge import mergeable_fields, merged_values
from crm_customer.domain.records import R, RecordEvent
from crm_customer.usecases.account_links import follow_account
from crm_customer.usecases.loyalty import move_points
from crm_customer.usecases.ports import RecordRepository, UnitOfWork
from crm_customer.usecases.records import (
    RecordKind,
    check_writable,
    require_reach,
    require_version,
    seen_by,
    visible,
)
from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import FieldViolation, InvalidArgument, StaleVersion
from crm_platform.ids import parse_uuid


async def merge_records(
    *,
    kind: RecordKind[R],
    uow: UnitOfWork,
    principal: Principal,
    survivor_id: str,
    duplicate_id: str,
    expected_version: int,
    choices: Mapping[str, str],
) -> R:
    """The survivor after absorbing the duplicate. Needs EDIT reach on the survivor, whose
    version must be `expected_version`, and DELETE reach on the duplicate."""
    survivor_uuid = parse_uuid(survivor_id)
    if survivor_uuid is not None and survivor_uuid == parse_uuid(duplicate_id):
        raise InvalidArgument([FieldViolation("duplicate_id", "is the record itself")])
    check_writable(kind, principal, choices)
    fields = mergeable_fields(kind.record_type, internal=principal.partner_id is None)
    async with uow:
        repo = kind.repo(uow)
        if kind.obj == "account":
            # Before the records are read: a parent changed meanwhile (the survivor put
            # under one of the duplicate's children) would be unseen by the check below.
            await uow.accounts.lock_hierarchy()
        survivor, duplicate = await _locked_pair(kind, repo, principal, survivor_id, duplicate_id)
        require_reach(kind, principal, Action.EDIT, survivor)
        require_reach(kind, principal, Action.DELETE, duplicate)
        require_version(kind, survivor, expected_version)
        values = merged_values(survivor, duplicate, fields=fields, choices=choices)
        # Not checked against the caller's sight as an update's references are: they come
        # from a record the caller may see, not from the caller.
        merged, changed = survivor.update(values)
        if changed is not None and not await repo.replace(
            merged, expected_version=survivor.version
        ):
            raise StaleVersion(f"{kind.obj} was changed concurrently")
        await move_points(
            uow,
            record_type=kind.obj,
            from_id=duplicate.id,
            to_id=survivor.id,
            actor_id=principal.subject_id,
        )
        gone, deleted = duplicate.delete()
        await repo.delete(gone, expected_version=duplicate.version, merged_into=survivor.id)
        events = [changed] if changed is not None else []
        events += [deleted, RecordEvent("merged", merged, duplicate=gone)]
        if kind.obj == "account":
            events += await follow_account(
                uow, duplicate.id, to_id=survivor.id, children_to=survivor.id
            )
            await uow.timeline.copy_entries(from_account=duplicate.id, to_account=survivor.id)
        if kind.check_links is not None:  # with the duplicate's children moved
            await kind.check_links(uow, merged, fields)
        for event in events:
            uow.record(event, actor_id=principal.subject_id)
        await uow.commit()
    return seen_by(principal, merged)


async def _locked_pair(
    kind: RecordKind[R],
    repo: RecordRepository[R],
    principal: Principal,
    survivor_id: str,
    duplicate_id: str,
) -> tuple[R, R]:
    """Both records, each NotFound when the caller cannot see it, their rows locked in id
    order (so two merges of the same pair wait for each other rather than deadlock): a
    concurrent edit of either waits for the merge, then finds its version stale."""
    ordered = sorted((survivor_id, duplicate_id), key=str.lower)
    found = {
        record_id: await visible(kind, repo, principal, record_id, for_update=True)
        for record_id in ordered
    }
    return found[survivor_id], found[duplicate_id]
