"""Dead letters: messages a consumer gave up on, kept in `CRM_DEADLETTER` until re-driven.

A dead letter is the original message (payload and headers) under
`crm_deadletter.<consumer>`, plus headers saying why, from where and for whom. `redrive`
republishes it to its original subject under a fresh Nats-Msg-Id (the old one may still be
inside JetStream's duplicate window) and the unchanged Crm-Event-Id, so every consumer's inbox
still applies it at most once, then deletes it from the dead-letter stream.

CLI: `python -m crm_platform.events.deadletter {list,redrive} --nats-url URL --consumer NAME`.
"""

import argparse
import asyncio
import logging
import re
from collections.abc import Sequence

import nats
from nats.aio.msg import Msg
from nats.js.api import RawStreamMsg
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from crm_platform.events.envelope import EVENT_ID, EVENT_TYPE, MSG_ID
from crm_platform.events.streams import (
    DEADLETTER_STREAM,
    deadletter_subject,
    ensure_deadletter_stream,
)

log = logging.getLogger(__name__)

REASON = "Crm-Dead-Letter-Reason"
ORIGINAL_SUBJECT = "Crm-Original-Subject"
CONSUMER = "Crm-Consumer"
ORIGINAL_STREAM = "Crm-Original-Stream"
ORIGINAL_SEQUENCE = "Crm-Original-Sequence"
ORIGINAL_MSG_ID = "Crm-Original-Msg-Id"
DELIVERIES = "Crm-Deliveries"
_ADDED = (
    REASON,
    ORIGINAL_SUBJECT,
    CONSUMER,
    ORIGINAL_STREAM,
    ORIGINAL_SEQUENCE,
    ORIGINAL_MSG_ID,
    DELIVERIES,
)

_MAX_REASON = 1000


def _header_value(text: str) -> str:
    # A header value is one line of ASCII on the wire; exception texts are neither.
    flat = re.sub(r"\s+", " ", text).strip()
    return flat.encode("ascii", "backslashreplace").decode("ascii")[:_MAX_REASON]


async def dead_letter(js: JetStreamContext, msg: Msg, *, consumer: str, reason: str) -> None:
    """Copy `msg` to the consumer's dead-letter subject (awaiting JetStream's ack)."""
    meta = msg.metadata
    headers = dict(msg.headers or {})
    original_msg_id = headers.get(MSG_ID, "")
    headers.update(
        {
            REASON: _header_value(reason) or "unknown",
            ORIGINAL_SUBJECT: msg.subject,
            CONSUMER: consumer,
            ORIGINAL_STREAM: meta.stream,
            ORIGINAL_SEQUENCE: str(meta.sequence.stream),
            ORIGINAL_MSG_ID: original_msg_id,
            DELIVERIES: str(meta.num_delivered),
            # Stable per original message: a retry after a lost ack is dropped as a
            # duplicate, while a re-driven copy (a new stream sequence) can die again.
            MSG_ID: f"dlq:{consumer}:{meta.stream}:{meta.sequence.stream}",
        }
    )
    await js.publish(deadletter_subject(consumer), msg.data, headers=headers)


async def _next(js: JetStreamContext, subject: str, seq: int) -> RawStreamMsg | None:
    try:
        return await js.get_msg(DEADLETTER_STREAM, seq=seq, subject=subject, next=True)
    except NotFoundError:
        return None


async def dead_letters(
    js: JetStreamContext, *, consumer: str, limit: int | None = None
) -> list[RawStreamMsg]:
    """The consumer's dead letters, oldest first (read without consuming them)."""
    found: list[RawStreamMsg] = []
    seq = 1
    while limit is None or len(found) < limit:
        raw = await _next(js, deadletter_subject(consumer), seq)
        if raw is None or raw.seq is None:
            break
        found.append(raw)
        seq = raw.seq + 1
    return found


async def redrive(js: JetStreamContext, *, durable: str, limit: int | None = None) -> int:
    """Republish up to `limit` of `durable`'s dead letters to their original subjects and
    remove them from the dead-letter stream; how many were re-driven."""
    count = 0
    seq = 1
    # Only what is there now: a message that fails again while we work is dead-lettered
    # anew behind us, and chasing it would loop for as long as it keeps failing.
    last = (await js.stream_info(DEADLETTER_STREAM)).state.last_seq
    while limit is None or count < limit:
        raw = await _next(js, deadletter_subject(durable), seq)
        if raw is None or raw.seq is None or raw.seq > last:
            break
        seq = raw.seq + 1
        headers = dict(raw.headers or {})
        subject = headers.get(ORIGINAL_SUBJECT)
        if not subject:
            log.warning("dead letter %d has no original subject; left in place", raw.seq)
            continue
        event_id = headers.get(EVENT_ID) or headers.get(ORIGINAL_MSG_ID) or "unknown"
        for name in _ADDED:
            headers.pop(name, None)
        headers[MSG_ID] = f"{event_id}:redrive:{raw.seq}"
        await js.publish(subject, raw.data or b"", headers=headers)
        # Deleted only once the original stream has it: a crash in between re-drives twice,
        # which the inboxes absorb, rather than losing the message.
        await js.delete_msg(DEADLETTER_STREAM, raw.seq)
        count += 1
    return count


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m crm_platform.events.deadletter")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("list", "show a consumer's dead letters"),
        ("redrive", "republish a consumer's dead letters to their original subjects"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--nats-url", required=True)
        command.add_argument("--consumer", required=True, help="the durable consumer name")
        command.add_argument("--limit", type=int, default=None)
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> None:
    nc = await nats.connect(args.nats_url, name="crm-deadletter", max_reconnect_attempts=2)
    try:
        js = nc.jetstream()
        await ensure_deadletter_stream(js)
        if args.command == "redrive":
            count = await redrive(js, durable=args.consumer, limit=args.limit)
            print(f"re-drove {count} dead letter(s) of {args.consumer}")
            return
        for raw in await dead_letters(js, consumer=args.consumer, limit=args.limit):
            headers = raw.headers or {}
            print(
                raw.seq,
                raw.time.isoformat() if raw.time else "-",
                headers.get(EVENT_ID, "-"),
                headers.get(EVENT_TYPE, "-"),
                headers.get(ORIGINAL_SUBJECT, "-"),
                headers.get(REASON, "-"),
                sep="\t",
            )
    finally:
        await nc.close()


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(_run(_parse_args(argv)))


if __name__ == "__main__":
    main()
