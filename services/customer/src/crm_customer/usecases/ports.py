"""What the use cases need from storage, as Protocols the repository layer satisfies."""

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any, Protocol, Self

from crm_customer.domain.accounts import Account
from crm_customer.domain.contacts import Contact
from crm_customer.domain.custom_fields import CustomField
from crm_customer.domain.history import Change
from crm_customer.domain.imports import ImportJob, Problem, Progress, Status
from crm_customer.domain.loyalty import LedgerKey, LoyaltyEntry
from crm_customer.domain.records import R, RecordEvent
from crm_customer.domain.search import Cursor, Filter, Order
from crm_customer.domain.segments import Segment
from crm_customer.domain.timeline import TimelineEntry
from crm_platform.auth.principal import Principal, Scope


class RecordRepository(Protocol[R]):
    async def get(
        self,
        record_id: uuid.UUID,
        *,
        principal: Principal,
        scope: Scope,
        for_update: bool = False,
        for_share: bool = False,
    ) -> R | None:
        """The record when it exists (not deleted) and lies within `scope` for `principal`;
        `for_update` locks its row until the transaction ends, `for_share` against changes
        (a delete waits, and one under way is waited for)."""
        ...

    async def merged_into(
        self, record_id: uuid.UUID, *, principal: Principal, scope: Scope
    ) -> uuid.UUID | None:
        """The record a deleted record within `scope` was merged into, if it was."""
        ...

    async def referring_to(self, account_id: uuid.UUID) -> list[R]:
        """Every record, whoever's, pointing at account `account_id` (contacts: as their
        account or one they hold a role at; accounts: as their parent), locked for update."""
        ...

    async def parent_of(self, account_id: uuid.UUID) -> uuid.UUID | None:
        """Accounts: the parent the database holds for `account_id` (no lock taken)."""
        ...

    async def lock_hierarchy(self) -> None:
        """Accounts: wait for, then hold until commit, the lock every change of a parent
        takes (`ancestors` takes it too)."""
        ...

    async def ancestors(self, account_id: uuid.UUID) -> list[uuid.UUID]:
        """Accounts: the parent of `account_id`, its parent, and so on up, whoever's (the
        walk ends where an id repeats). Waits for, then holds until commit, a lock taken
        by every walk: changes of parents made at once (X under Y, Y under X) would each
        find no cycle."""
        ...

    async def page(
        self,
        *,
        principal: Principal,
        scope: Scope,
        wanted: Filter,
        order: Order,
        after: Cursor | None,
        limit: int,
    ) -> list[tuple[R, Any]]:
        """Up to `limit` visible records meeting `wanted`, in `order`, past `after`; each
        with the value of its sort key (for the next page's cursor)."""
        ...

    async def count(self, *, principal: Principal, scope: Scope, wanted: Filter) -> int:
        """How many visible records meet `wanted`."""
        ...

    async def look_alikes(
        self, record: R, *, principal: Principal, scope: Scope, limit: int
    ) -> list[R]:
        """Visible records that may be `record` again (a superset: the domain decides)."""
        ...

    async def with_keys(
        self,
        *,
        emails: list[str],
        phones: list[str],
        names: list[str],
        principal: Principal,
        scope: Scope,
    ) -> list[R]:
        """Visible records with any of these emails or phones, or (accounts) one of these
        lower-cased names."""
        ...

    async def named(
        self, names: list[str], *, principal: Principal, scope: Scope
    ) -> list[tuple[uuid.UUID, str]]:
        """(id, name) of the visible accounts with one of these lower-cased names, oldest
        first: an import resolves thousands of companies per batch, and needs no more."""
        ...

    async def add(self, record: R) -> None: ...

    async def add_many(self, records: list[R]) -> None: ...

    async def replace(self, record: R, *, expected_version: int) -> bool:
        """Store `record` if the stored version is still `expected_version`."""
        ...

    async def delete(
        self, record: R, *, expected_version: int, merged_into: uuid.UUID | None = None
    ) -> bool:
        """Mark `record` deleted if the stored version is still `expected_version`; when it
        was merged away, with the record it was merged into."""
        ...


class ImportJobs(Protocol):
    async def add(self, job: ImportJob) -> None: ...

    async def add_chunk(self, job_id: uuid.UUID, seq: int, data: bytes) -> None: ...

    async def release(self, job_id: uuid.UUID, holder: uuid.UUID, pause: dt.timedelta) -> None: ...

    def chunks(self, job_id: uuid.UUID) -> AsyncIterator[bytes]: ...

    async def get(
        self, job_id: uuid.UUID, *, principal: Principal, scopes: dict[str, Scope]
    ) -> ImportJob | None:
        """The job if its entity is in `scopes` (entity -> read scope) and it lies within
        that reach."""

    async def page(
        self,
        *,
        principal: Principal,
        scopes: dict[str, Scope],
        status: Status | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[ImportJob]:
        """Visible jobs (as `get`) in `status` (any when None), newest first, after the id
        `after`."""

    async def claim(self, holder: uuid.UUID, lease: dt.timedelta) -> ImportJob | None: ...

    async def save_progress(
        self,
        job_id: uuid.UUID,
        holder: uuid.UUID,
        progress: Progress,
        lease: dt.timedelta,
        *,
        restart: bool = False,
    ) -> bool: ...

    async def add_problems(self, job_id: uuid.UUID, problems: Sequence[Problem]) -> None: ...

    def problems(self, job_id: uuid.UUID, batch: int) -> AsyncIterator[list[Problem]]: ...

    async def finish(
        self, job_id: uuid.UUID, holder: uuid.UUID, status: Status, error: str = ""
    ) -> bool: ...


class Segments(Protocol):
    async def add(self, segment: Segment) -> None: ...

    async def get(
        self, segment_id: uuid.UUID, *, principal: Principal, scopes: dict[str, Scope]
    ) -> Segment | None:
        """The segment if its entity is in `scopes` (entity -> read scope) and it lies
        within that scope."""
        ...

    async def page(
        self,
        *,
        principal: Principal,
        scopes: dict[str, Scope],
        after: uuid.UUID | None,
        limit: int,
    ) -> list[Segment]: ...

    async def replace(self, segment: Segment, *, expected_version: int) -> bool: ...

    async def delete(self, segment: Segment, *, expected_version: int) -> bool: ...


class CustomFields(Protocol):
    async def of(self, entity: str) -> dict[str, CustomField]:
        """The entity's definitions by name."""
        ...

    async def add(self, field: CustomField) -> bool:
        """False when the entity already has a field of that name."""
        ...

    async def replace(self, field: CustomField, *, expected_version: int) -> bool: ...

    async def delete(self, field: CustomField, *, expected_version: int) -> bool: ...


class TimelineStore(Protocol):
    async def add(self, entries: Sequence[TimelineEntry], *, new: bool = False) -> None:
        """Store the entries; one already there (same event, same account) is left alone.
        `new`: of events being published now, which cannot be there yet (appended in bulk)."""
        ...

    async def survivors(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """Of these accounts, those merged away -> the account each lives on in now (the
        end of the chain, when its survivor was merged away in turn)."""
        ...

    async def copy_entries(self, *, from_account: uuid.UUID, to_account: uuid.UUID) -> None:
        """Every entry of `from_account` also on `to_account`'s timeline."""
        ...

    async def page(
        self,
        account_id: uuid.UUID,
        *,
        kinds: frozenset[str],
        hidden_kinds: frozenset[str],
        after: Cursor | None,
        limit: int,
    ) -> list[TimelineEntry]:
        """Up to `limit` entries of the account, newest first, past `after` (occurred_at and
        id of the last one seen); only `kinds` unless empty, never `hidden_kinds`."""
        ...


class LoyaltyLedger(Protocol):
    async def lock(self, key: LedgerKey) -> bool:
        """Hold the ledger's record until the transaction ends; False when it is gone."""
        ...

    async def last(self, key: LedgerKey) -> LoyaltyEntry | None: ...

    async def find(self, key: LedgerKey, kind: str, reference: str) -> LoyaltyEntry | None: ...

    async def has_earns_expiring(
        self, key: LedgerKey, *, after: dt.datetime | None, until: dt.datetime | None
    ) -> bool:
        """Whether an earn expires in (`after`, `until`]; an open end when None."""
        ...

    async def due(self, *, since: dt.datetime, until: dt.datetime, limit: int) -> list[LedgerKey]:
        """Ledgers with an earn expiring in (`since`, `until`] after their last entry."""
        ...

    async def entries(self, key: LedgerKey) -> list[LoyaltyEntry]:
        """The whole ledger, oldest first."""
        ...

    async def page(
        self, key: LedgerKey, *, before: uuid.UUID | None, limit: int
    ) -> list[LoyaltyEntry]:
        """Up to `limit` entries, newest first, older than the entry `before` when given."""
        ...

    async def add(self, entries: Sequence[LoyaltyEntry]) -> None: ...


class FieldHistory(Protocol):
    async def page(
        self,
        record_type: str,
        record_id: uuid.UUID,
        *,
        hidden: Collection[str],
        after: Cursor | None,
        limit: int,
    ) -> list[Change]:
        """Up to `limit` changes of the record, newest first, past `after`, without those of
        the `hidden` fields."""
        ...


class UnitOfWork(Protocol):
    @property
    def accounts(self) -> RecordRepository[Account]: ...

    @property
    def contacts(self) -> RecordRepository[Contact]: ...

    @property
    def imports(self) -> ImportJobs: ...

    @property
    def segments(self) -> Segments: ...

    @property
    def custom_fields(self) -> CustomFields: ...

    @property
    def timeline(self) -> TimelineStore: ...

    @property
    def loyalty(self) -> LoyaltyLedger: ...

    @property
    def history(self) -> FieldHistory: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    def record(self, event: RecordEvent | LoyaltyEntry, *, actor_id: uuid.UUID) -> None:
        """Queue the outbox event (and a record's history rows), written by commit() in
        one transaction. A ledger entry is its own history."""
        ...

    async def commit(self) -> None: ...
