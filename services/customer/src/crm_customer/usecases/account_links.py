"""Records pointing at an account that goes away (merged into another, or deleted) follow
it: each an ordinary update, with its version, history row and event, whoever's it is."""

import uuid
from collections.abc import Mapping

from crm_customer.domain.merge import repointed_contact
from crm_customer.domain.records import R, RecordEvent
from crm_customer.usecases.ports import RecordRepository, UnitOfWork
from crm_platform.errors import StaleVersion


async def follow_account(
    uow: UnitOfWork, gone_id: uuid.UUID, *, to_id: uuid.UUID | None, children_to: uuid.UUID | None
) -> list[RecordEvent]:
    """Contacts of account `gone_id` move to `to_id` (none: they lose it, and their role
    there), its child accounts under `children_to`."""
    events: list[RecordEvent] = []
    for contact in await uow.contacts.referring_to(gone_id):
        events += await _store_update(
            uow.contacts, contact, repointed_contact(contact, gone_id, to_id)
        )
    for child in await uow.accounts.referring_to(gone_id):
        events += await _store_update(uow.accounts, child, {"parent_id": children_to})
    return events


async def _store_update(
    repo: RecordRepository[R], record: R, values: Mapping[str, object]
) -> list[RecordEvent]:
    updated, event = record.update(values)
    if event is None:
        return []
    if not await repo.replace(updated, expected_version=record.version):
        raise StaleVersion(f"{type(record).__name__.lower()} was changed concurrently")
    return [event]
