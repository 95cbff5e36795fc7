"""Which keys are usable, what makes a repeat the same request, and what is kept."""

import pytest

from crm_gateway.idempotency import rules


@pytest.mark.parametrize(
    ("key", "usable"),
    [("a", True), ("k" * 255, True), ("", False), ("  ", False), ("k" * 256, False),
     ("tab\there", False), ("caf\u00e9", False)],
)  # fmt: skip
def test_keys(key: str, usable: bool) -> None:
    assert (rules.key_problem(key) is None) is usable


def test_a_repeat_must_match_method_target_and_body() -> None:
    first = rules.fingerprint("POST", "/api/v1/accounts", b'{"name":"A"}')
    assert first == rules.fingerprint("POST", "/api/v1/accounts", b'{"name":"A"}')
    for other in (
        rules.fingerprint("POST", "/api/v1/accounts", b'{"name":"B"}'),
        rules.fingerprint("POST", "/api/v1/contacts", b'{"name":"A"}'),
        rules.fingerprint("POST", "/api/v1/accounts?x=1", b'{"name":"A"}'),
        rules.fingerprint("PUT", "/api/v1/accounts", b'{"name":"A"}'),
    ):
        assert other != first


def test_what_a_repeat_gets() -> None:
    answer = rules.StoredResponse(201, {"location": "/x"}, b"{}")
    assert rules.repeat_of(rules.Existing("f", answer), "f") == rules.Replay(answer)
    assert rules.repeat_of(rules.Existing("f", None), "f") == rules.InFlight()
    assert rules.repeat_of(rules.Existing("f", answer), "g") == rules.Mismatch()
    assert rules.repeat_of(rules.Existing("f", None), "g") == rules.Mismatch()


@pytest.mark.parametrize(
    ("status", "kept"),
    [
        (201, True),
        (404, True),
        (409, True),
        (422, True),
        (400, False),
        (412, False),
        (413, False),
        (415, False),
        (428, False),
        (429, False),
        (500, False),
        (503, False),
    ],
)
def test_only_answers_a_retry_cannot_change_are_kept(status: int, kept: bool) -> None:
    assert rules.worth_keeping(status) is kept
