"""The delivery worker: claims due deliveries, POSTs them signed, records each attempt.

Every gateway process runs one; they share the work through the claim (deliveries.py).
"""

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from prometheus_client import Counter

from crm_gateway.webhooks.deliveries import Outcome, SqlDeliveries
from crm_gateway.webhooks.model import Delivery, Webhook
from crm_gateway.webhooks.repository import SqlWebhooks
from crm_gateway.webhooks.rules import address_allowed, retry_delay, signature

log = logging.getLogger(__name__)

DELIVERIES = Counter(
    "crm_gateway_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome (delivered, retry, failed).",
    ["outcome"],
)


@dataclass(frozen=True)
class SendPolicy:
    timeout_seconds: float = 5.0
    max_attempts: int = 10
    retry_base_seconds: float = 5.0
    retry_cap_seconds: float = 3600.0
    disable_after_failures: int = 20
    allow_private_addresses: bool = False
    batch: int = 50
    idle_poll_seconds: float = 0.5


async def refusal(url: str, *, allow_private: bool) -> str | None:
    """Why a delivery may not go to `url` as its host resolves now; None when it may.
    Checked at every attempt, not only when subscribing: DNS may have changed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or 443
    except ValueError:  # subscribed before ports were checked
        return "its port is out of range"
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError:
            return "its host cannot be resolved"
        addresses = [ipaddress.ip_address(info[4][0]) for info in found]
    if not all(address_allowed(str(a), allow_private=allow_private) for a in addresses):
        return "its host is a private, loopback or link-local address"
    return None


class DeliverySender:
    def __init__(
        self,
        deliveries: SqlDeliveries,
        webhooks: SqlWebhooks,
        http: httpx.AsyncClient,
        policy: SendPolicy,
    ) -> None:
        self._deliveries = deliveries
        self._webhooks = webhooks
        self._http = http
        self._policy = policy
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-deliveries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def send_due(self) -> int:
        """Send one batch of due deliveries; how many there were."""
        claim_seconds = self._policy.timeout_seconds * 2 + 5
        batch = await self._deliveries.claim_due(
            limit=self._policy.batch, claim_seconds=claim_seconds
        )
        if not batch:  # the usual answer, twice a second: no query for no webhooks
            return 0
        hooks = await self._webhooks.many([delivery.webhook_id for delivery in batch])
        # A webhook deleted since took its deliveries with it.
        await asyncio.gather(
            *(self._send(d, hooks[d.webhook_id]) for d in batch if d.webhook_id in hooks)
        )
        return len(batch)

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.send_due()
            except Exception:
                log.warning("webhook deliveries could not be claimed", exc_info=True)
                sent = 0
            if not sent:
                await asyncio.sleep(self._policy.idle_poll_seconds)

    async def _send(self, delivery: Delivery, webhook: Webhook) -> None:
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "crm-webhooks/1",
            "X-CRM-Webhook-Id": str(webhook.id),
            "X-CRM-Event-Id": str(delivery.event_id),
            "X-CRM-Event-Type": delivery.event_type,
            "X-CRM-Timestamp": str(timestamp),
            "X-CRM-Signature": signature(webhook.secret, timestamp, body),
        }
        outcome = await self._attempt(webhook.url, body, headers)
        attempt = delivery.attempts + 1
        retry_in = None
        if not outcome.delivered and attempt < self._policy.max_attempts:
            retry_in = retry_delay(
                attempt, base=self._policy.retry_base_seconds, cap=self._policy.retry_cap_seconds
            )
        DELIVERIES.labels(
            "delivered" if outcome.delivered else "retry" if retry_in is not None else "failed"
        ).inc()
        await self._deliveries.record(
            delivery,
            outcome,
            retry_in=retry_in,
            disable_after=self._policy.disable_after_failures,
        )

    async def _attempt(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        refused = await refusal(url, allow_private=self._policy.allow_private_addresses)
        if refused is not None:
            return Outcome(error=f"not sent: {refused}")
        try:
            reply = await self._http.post(
                url, content=body, headers=headers, timeout=self._policy.timeout_seconds
            )
        except httpx.HTTPError as error:
            return Outcome(error=f"{type(error).__name__}: {error}"[:500])
        return Outcome(status_code=reply.status_code)
