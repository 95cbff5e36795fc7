"""Subscribing, editing and removing webhooks, and reading their delivery log.

Who manages which: a webhook belongs to the principal that created it (a user or an API
key), and follows that principal's visibility. Admins (grant object `webhook`) see and
manage everyone's; any API key manages its own, so a partner system subscribes for itself
without an admin; a user needs `webhook: create` to subscribe.
"""

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from crm_gateway.preconditions import ANY_VERSION, ExpectedVersion
from crm_gateway.webhooks.model import Delivery, Webhook
from crm_gateway.webhooks.rules import check_event_types, check_url, new_secret, utcnow
from crm_platform.auth.principal import Action, Principal, Scope
from crm_platform.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    StaleVersion,
)
from crm_platform.ids import uuid7

OBJECT = "webhook"


class WebhookStore(Protocol):
    async def add(self, webhook: Webhook) -> None: ...
    async def get(self, webhook_id: uuid.UUID) -> Webhook | None: ...
    async def page(
        self, *, owner_id: uuid.UUID | None, after: uuid.UUID | None, limit: int
    ) -> list[Webhook]: ...
    async def count_owned(self, owner_id: uuid.UUID) -> int: ...
    async def replace(self, webhook: Webhook, *, expected_version: int) -> bool: ...
    async def delete(self, webhook_id: uuid.UUID, *, expected_version: int) -> bool: ...
    async def disable_owned_by(self, owner_id: uuid.UUID, reason: str) -> None: ...


class DeliveryLog(Protocol):
    async def page(
        self, *, webhook_id: uuid.UUID, after: uuid.UUID | None, limit: int
    ) -> list[Delivery]: ...
    async def resend(self, *, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery | None: ...


@dataclasses.dataclass(frozen=True)
class Limits:
    allow_http: bool = False
    allow_private_addresses: bool = False
    max_per_owner: int = 20


class Webhooks:
    def __init__(self, store: WebhookStore, log: DeliveryLog, *, limits: Limits) -> None:
        self._store = store
        self._log = log
        self._limits = limits

    async def create(
        self,
        principal: Principal,
        *,
        url: str,
        event_types: Sequence[str],
        description: str,
        active: bool,
    ) -> Webhook:
        if principal.kind != "api_key":
            principal.require(OBJECT, Action.CREATE)
        self._check_target(url)
        types = check_event_types(event_types)
        if await self._store.count_owned(principal.subject_id) >= self._limits.max_per_owner:
            why = f"at most {self._limits.max_per_owner} webhooks per owner"
            raise InvalidArgument([FieldViolation("url", why)])
        now = utcnow()
        webhook = Webhook(
            id=uuid7(),
            version=1,
            owner=principal,
            url=url,
            event_types=types,
            description=description,
            active=active,
            secret=new_secret(),
            created_at=now,
            updated_at=now,
            active_since=now if active else None,
        )
        await self._store.add(webhook)
        return webhook

    async def get(self, principal: Principal, webhook_id: uuid.UUID) -> Webhook:
        webhook = await self._store.get(webhook_id)
        if webhook is None or not _manages(principal, webhook, Action.READ):
            raise NotFound(f"webhook {webhook_id} not found")
        return webhook

    async def page(
        self, principal: Principal, *, after: uuid.UUID | None, limit: int
    ) -> list[Webhook]:
        everyone = principal.scope(OBJECT, Action.READ) is Scope.ALL
        owner = None if everyone else principal.subject_id
        return await self._store.page(owner_id=owner, after=after, limit=limit)

    async def update(
        self,
        principal: Principal,
        webhook_id: uuid.UUID,
        *,
        expected_version: ExpectedVersion,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        active: bool | None = None,
    ) -> Webhook:
        """Changes the fields given; enabling a webhook again clears its run of failures."""
        current = await self._editable(principal, webhook_id, expected_version, Action.EDIT)
        changes: dict[str, Any] = {}
        if url is not None:
            self._check_target(url)
            changes["url"] = url
        if event_types is not None:
            changes["event_types"] = check_event_types(event_types)
        if description is not None:
            changes["description"] = description
        now = utcnow()
        if active is not None:
            changes["active"] = active
            if active:
                changes.update(consecutive_failures=0, disabled_reason=None)
            if active != current.active:
                changes["active_since"] = now if active else None
        # As for customer records: a change to nothing is no new version, so the ETags
        # clients hold stay current.
        if all(getattr(current, name) == value for name, value in changes.items()):
            return current
        updated = dataclasses.replace(
            current, **changes, version=current.version + 1, updated_at=now
        )
        await self._replace(updated, current.version)
        return updated

    async def rotate_secret(
        self, principal: Principal, webhook_id: uuid.UUID, *, expected_version: ExpectedVersion
    ) -> Webhook:
        current = await self._editable(principal, webhook_id, expected_version, Action.EDIT)
        rotated = dataclasses.replace(
            current, secret=new_secret(), version=current.version + 1, updated_at=utcnow()
        )
        await self._replace(rotated, current.version)
        return rotated

    async def delete(
        self, principal: Principal, webhook_id: uuid.UUID, *, expected_version: ExpectedVersion
    ) -> Webhook:
        current = await self._editable(principal, webhook_id, expected_version, Action.DELETE)
        if not await self._store.delete(webhook_id, expected_version=current.version):
            raise StaleVersion("the webhook was changed concurrently")
        return current

    async def disable_owned_by(self, owner_id: uuid.UUID, reason: str) -> None:
        await self._store.disable_owned_by(owner_id, reason)

    async def deliveries(
        self, principal: Principal, webhook_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
    ) -> list[Delivery]:
        await self.get(principal, webhook_id)
        return await self._log.page(webhook_id=webhook_id, after=after, limit=limit)

    async def resend(
        self, principal: Principal, webhook_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> Delivery:
        await self._editable(principal, webhook_id, ANY_VERSION, Action.EDIT)
        delivery = await self._log.resend(webhook_id=webhook_id, delivery_id=delivery_id)
        if delivery is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return delivery

    async def _editable(
        self, principal: Principal, webhook_id: uuid.UUID, expected: ExpectedVersion, action: Action
    ) -> Webhook:
        current = await self.get(principal, webhook_id)
        if not _manages(principal, current, action):
            raise PermissionDenied(f"not allowed to {action.value} this webhook")
        expected.check(current.version, "webhook")
        return current

    async def _replace(self, webhook: Webhook, expected_version: int) -> None:
        if not await self._store.replace(webhook, expected_version=expected_version):
            raise StaleVersion("the webhook was changed concurrently")

    def _check_target(self, url: str) -> None:
        limits = self._limits
        check_url(url, allow_http=limits.allow_http, allow_private=limits.allow_private_addresses)


def _manages(principal: Principal, webhook: Webhook, action: Action) -> bool:
    """Its owner manages it; so does whoever holds the action on every webhook."""
    return (
        webhook.owner.subject_id == principal.subject_id
        or principal.scope(OBJECT, action) is Scope.ALL
    )
