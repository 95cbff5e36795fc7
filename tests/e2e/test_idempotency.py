"""An ERP retrying a create through several gateway processes at once: one effect."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


def post_until_answered(
    stack: Any, auth: dict[str, str], body: dict[str, str], key: str
) -> httpx.Response:
    """What a client does with the key: retry while the first attempt is in flight (409)."""
    with httpx.Client(base_url=stack.info.gateway_url, timeout=10) as client:
        deadline = time.monotonic() + 10
        while True:
            reply = client.post(
                "/api/v1/accounts", json=body, headers={**auth, "Idempotency-Key": key}
            )
            if reply.status_code != 409 or time.monotonic() > deadline:
                return reply
            time.sleep(0.05)  # the first attempt takes milliseconds, not Retry-After's 1 s


def test_concurrent_retries_with_one_key_create_one_account_and_answer_alike(
    client: httpx.Client, auth: dict[str, str], stack: Any
) -> None:
    name = f"Idempotent {uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(
            pool.map(lambda _: post_until_answered(stack, auth, {"name": name}, key), range(16))
        )

    assert [r.status_code for r in replies] == [201] * 16
    assert len({r.content for r in replies}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in replies) == 1
    created = [a for a in all_accounts(client, auth) if a["name"] == name]
    assert [a["id"] for a in created] == [replies[0].json()["id"]]

    other = client.post(
        "/api/v1/accounts", json={"name": "Another body"}, headers={**auth, "Idempotency-Key": key}
    )
    assert other.status_code == 422, other.text


def all_accounts(client: httpx.Client, auth: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        page = client.get("/api/v1/accounts", params=params, headers=auth).json()
        items += page["items"]
        if not page["next_cursor"]:
            return items
        params["cursor"] = page["next_cursor"]
