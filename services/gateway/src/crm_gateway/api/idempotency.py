"""`Idempotency-Key` on every authenticated `POST` under /api/v1 but /api/v1/auth (§8).

Pure ASGI. The key is claimed in the database before the route runs, so of concurrent
requests with one key exactly one reaches the route; the others are told it is in flight
(409) or, once it has answered, get its answer again with `Idempotent-Replayed: true`.
Requests without the header never touch the database.
"""

import asyncio
import logging
import uuid
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from crm_gateway.api.buffering import HeldResponse, read_body, replaying
from crm_gateway.api.deps import resolve_caller, services_in
from crm_gateway.api.edge import LONG_PATHS, header
from crm_gateway.api.problems import problem
from crm_gateway.idempotency import rules
from crm_gateway.idempotency.repository import SqlIdempotencyStore
from crm_platform.errors import Unauthenticated

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
# Logging in is no change to repeat, and its caller is not known before it runs.
EXEMPT_PREFIX = "/api/v1/auth/"
_FIELD = "header.idempotency-key"


class IdempotencyKeys:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key_of(scope)
        # An upload is not held in memory to be replayed, so its key is not honoured: a
        # repeated upload is a second import (whose rows, in create mode, the first one's
        # emails and phones make duplicates). Nor is a download's answer (an export): it
        # changes nothing, so a repeat simply exports again, as of then.
        if key is None or scope["path"] in LONG_PATHS:
            await self.app(scope, receive, send)
            return
        services = services_in(scope)
        try:
            caller = await resolve_caller(services, Headers(scope=scope))
        except Unauthenticated:
            await self.app(scope, receive, send)  # the route answers the 401
            return
        answer = await self._answer(scope, receive, send, key, caller.principal.subject_id)
        if answer is not None:
            await answer(scope, receive, send)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, key: str, subject_id: uuid.UUID
    ) -> Response | None:
        """Runs the route when the key is free; otherwise the answer for the repeat."""
        if (why := rules.key_problem(key)) is not None:
            return _invalid_key(why)
        try:
            body = await read_body(receive)
        except HTTPException as exc:  # BodyLimit's 413 on a chunked body
            return problem(exc.status_code, str(exc.detail), headers=exc.headers)
        target = scope["path"] + (
            "?" + scope["query_string"].decode() if scope["query_string"] else ""
        )
        fingerprint = rules.fingerprint(scope["method"], target, body)
        store = services_in(scope).idempotency
        claimed = await store.claim(subject_id=subject_id, key=key, fingerprint=fingerprint)
        if isinstance(claimed, rules.Existing):
            return _repeat_answer(rules.repeat_of(claimed, fingerprint))
        held = HeldResponse()
        try:
            await self.app(scope, replaying(body, receive), held.hold)
        except BaseException:  # a crash (LastResort answers it) or a cancelled request
            await asyncio.shield(
                _settle(store, None, subject_id=subject_id, key=key, claim_id=claimed)
            )
            raise
        await _settle(store, held, subject_id=subject_id, key=key, claim_id=claimed)
        await held.release(send)
        return None


async def _settle(
    store: SqlIdempotencyStore,
    held: HeldResponse | None,
    *,
    subject_id: uuid.UUID,
    key: str,
    claim_id: uuid.UUID,
) -> None:
    """Keep the answer for repeats, or free the key so a retry runs again (always when
    the route gave no answer: `held` is None).

    When that fails the route's answer still goes out: its effect has happened, and a 503
    would invite the very retry the key exists to absorb. The claim then stays until it
    counts as abandoned."""
    try:
        if held is not None and held.complete and rules.worth_keeping(held.status):
            kept = rules.kept_headers(held.headers)
            response = rules.StoredResponse(held.status, kept, held.body)
            await store.complete(
                subject_id=subject_id, key=key, claim_id=claim_id, response=response
            )
        else:
            await store.release(subject_id=subject_id, key=key, claim_id=claim_id)
    except Exception:
        log.error(
            "could not settle an idempotency key",
            extra={"subject_id": str(subject_id), "status": held.status if held else None},
            exc_info=True,
        )


def _key_of(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not path.startswith(API_PREFIX) or path.startswith(EXEMPT_PREFIX):
        return None
    key = header(scope, b"idempotency-key")
    return key.decode("latin-1") if key is not None else None


def _invalid_key(why: str) -> Response:
    return problem(
        422,
        f"Idempotency-Key {why}",
        field_errors=[{"field": _FIELD, "message": why}],
    )


def _repeat_answer(repeat: rules.Repeat) -> Response:
    if isinstance(repeat, rules.Replay):
        stored = repeat.response
        headers = {**stored.headers, rules.REPLAYED_HEADER: "true"}
        return Response(stored.body, stored.status, headers)
    if isinstance(repeat, rules.InFlight):
        return problem(
            409,
            "a request with this Idempotency-Key is still in progress; retry shortly",
            headers={"Retry-After": "1"},
        )
    return problem(
        422,
        "this Idempotency-Key was used for a different request (method, path or body)",
        field_errors=[{"field": _FIELD, "message": "was used for a different request"}],
    )


def document_idempotency(paths: dict[str, Any]) -> None:
    """Declare the header, and the answers it adds, on every POST the middleware covers."""
    for path, path_item in paths.items():
        operation = path_item.get("post")
        if operation is None or not path.startswith(API_PREFIX) or path.startswith(EXEMPT_PREFIX):
            continue
        if path in LONG_PATHS:  # the key is not honoured there (see above)
            continue
        operation.setdefault("parameters", []).append(_KEY_PARAMETER)
        operation.setdefault("responses", {}).setdefault(
            "409", {"description": "A request with this Idempotency-Key is still in progress."}
        )


_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": rules.MAX_KEY_LENGTH},
    "description": (
        "Makes a retry safe: for 24 h the same key with the same request replays the first "
        "answer (`Idempotent-Replayed: true`); with another request it is a 422, and while "
        "the first is still running a 409. Server errors are not kept."
    ),
}
