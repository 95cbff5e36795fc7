"""A consumer's durable on the JetStream server: made (or updated) from the consumer's
settings and bound as a pull subscription, or deleted while nothing is wanted
(`EventConsumer`'s `wanted_since`)."""

import contextlib
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError


@dataclass(frozen=True)
class Durable:
    js: JetStreamContext
    stream: str
    name: str
    subjects: Sequence[str]
    ack_wait: float
    start_margin: dt.timedelta

    async def bind(self, since: dt.datetime | None) -> JetStreamContext.PullSubscription:
        """Create or update the durable, then bind to it. With `since` a missing durable is
        made to deliver from then on (less `start_margin`, for clocks), and an existing one
        is left as it is: where it stands is not a setting to update."""
        if since is None or not await self._exists():
            await self.js.add_consumer(self.stream, self._config(since))
        return await self.js.pull_subscribe_bind(durable=self.name, stream=self.stream)

    async def delete(self) -> None:
        """Gone from the server, whoever deleted it: JetStream passes over what comes next."""
        # Not found is the usual case: dropped before, by us or another process.
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.stream, self.name)

    def _config(self, since: dt.datetime | None) -> ConsumerConfig:
        several = len(self.subjects) > 1
        return ConsumerConfig(
            name=self.name,
            durable_name=self.name,
            deliver_policy=DeliverPolicy.ALL if since is None else DeliverPolicy.BY_START_TIME,
            opt_start_time=None if since is None else since - self.start_margin,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=-1,  # see consumer.py's docstring
            filter_subject=None if several else self.subjects[0],
            filter_subjects=list(self.subjects) if several else None,
        )

    async def _exists(self) -> bool:
        try:
            await self.js.consumer_info(self.stream, self.name)
        except NotFoundError:
            return False
        return True
