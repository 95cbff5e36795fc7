"""What the use cases need from storage, as Protocols the repository layer satisfies."""

import uuid
from typing import Any, Protocol, Self

from crm_customer.domain.accounts import Account
from crm_customer.domain.contacts import Contact
from crm_customer.domain.records import R, RecordEvent
from crm_customer.domain.search import Cursor, Filter, Order
from crm_platform.auth.principal import Principal, Scope


class RecordRepository(Protocol[R]):
    async def get(self, record_id: uuid.UUID, *, principal: Principal, scope: Scope) -> R | None:
        """The record when it exists and lies within `scope` for `principal`."""
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

    async def look_alikes(
        self, record: R, *, principal: Principal, scope: Scope, limit: int
    ) -> list[R]:
        """Visible records that may be `record` again (a superset: the domain decides)."""
        ...

    async def add(self, record: R) -> None: ...

    async def replace(self, record: R, *, expected_version: int) -> bool:
        """Store `record` if the stored version is still `expected_version`."""
        ...

    async def delete(self, record: R, *, expected_version: int) -> bool:
        """Mark `record` deleted if the stored version is still `expected_version`."""
        ...


class UnitOfWork(Protocol):
    @property
    def accounts(self) -> RecordRepository[Account]: ...

    @property
    def contacts(self) -> RecordRepository[Contact]: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    def record(self, event: RecordEvent, *, actor_id: uuid.UUID) -> None:
        """Queue history rows and the outbox event, written by commit() in one transaction."""
        ...

    async def commit(self) -> None: ...
