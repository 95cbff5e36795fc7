"""Webhook rules: event names, subscriptions, visibility, signatures, backoff, targets."""

import hashlib
import hmac
import uuid

import pytest

from crm_gateway.webhooks.rules import (
    EVENT_TYPES,
    Subject,
    address_allowed,
    check_event_types,
    check_url,
    event_type_of,
    matches,
    may_read,
    payload_for,
    retry_delay,
    signature,
)
from crm_gateway.webhooks.sender import refusal
from crm_platform.auth.principal import Principal
from crm_platform.errors import InvalidArgument

TEAM, OTHER_TEAM, PARTNER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def principal(*roles: str, partner_id: uuid.UUID | None = None) -> Principal:
    grants = {
        "sales_rep": {"account": {"read": "own"}},
        "sales_manager": {"account": {"read": "team"}},
        "partner": {"account": {"read": "partner"}},
        "admin": {"account": {"read": "all"}},
    }
    return Principal(
        subject_id=uuid.uuid4(),
        kind="api_key" if partner_id else "user",
        roles=frozenset(roles),
        team_id=TEAM,
        team_ids=frozenset({TEAM}),
        partner_id=partner_id,
        grants={obj: acts for role in roles for obj, acts in grants[role].items()},
    )


def test_subjects_name_public_event_types_and_nothing_else() -> None:
    assert event_type_of("crm.customer.account.created.v1") == "account.created"
    assert event_type_of("crm.customer.contact.deleted.v1") == "contact.deleted"
    assert event_type_of("crm.customer.account.merged.v1") is None  # not published yet
    assert event_type_of("crm.customer.account.created") is None
    assert event_type_of("other.customer.account.created.v1") is None


def test_subscriptions_take_types_and_patterns_and_refuse_unknown_ones() -> None:
    assert check_event_types(["account.*", "account.*", "contact.created"]) == (
        "account.*",
        "contact.created",
    )
    assert check_event_types(["*"]) == ("*",)
    for bad in (["invoice.paid"], ["account.exploded"], [], ["account"], ["*.created"]):
        with pytest.raises(InvalidArgument) as refused:
            check_event_types(bad)
        assert refused.value.violations[0].field == "event_types"
    assert matches(("account.*",), "account.deleted")
    assert not matches(("account.*",), "contact.deleted")
    assert matches(("*",), "contact.updated")
    assert matches(("contact.updated",), "contact.updated")
    assert not matches(("contact.updated",), "contact.created")
    assert all(matches(("*",), t) for t in EVENT_TYPES)


def test_a_webhook_only_hears_of_records_its_owner_may_read() -> None:
    rep, manager, admin = principal("sales_rep"), principal("sales_manager"), principal("admin")
    partner = principal("partner", partner_id=PARTNER)
    own = Subject("account", rep.subject_id, TEAM, None)
    teammates = Subject("account", uuid.uuid4(), TEAM, None)
    elsewhere = Subject("account", uuid.uuid4(), OTHER_TEAM, None)
    partners = Subject("account", uuid.uuid4(), OTHER_TEAM, PARTNER)
    assert may_read(rep, own)
    assert not may_read(rep, teammates)
    assert may_read(manager, teammates)
    assert not may_read(manager, elsewhere)
    assert all(may_read(admin, s) for s in (own, teammates, elsewhere, partners))
    assert may_read(partner, partners)
    assert not any(may_read(partner, s) for s in (own, teammates, elsewhere))
    assert not may_read(rep, Subject("contact", rep.subject_id, TEAM, None))  # no grant


def test_partners_never_receive_internal_fields() -> None:
    record = {"id": "1", "name": "Acme", "internal_notes": "margin is thin"}
    assert payload_for(principal("admin"), record) == record
    assert payload_for(principal("partner", partner_id=PARTNER), record) == {
        "id": "1",
        "name": "Acme",
    }


def test_the_signature_covers_the_timestamp_and_the_body() -> None:
    body = b'{"id":"1"}'
    signed = signature("whsec_abc", 1_700_000_000, body)
    expected = hmac.new(b"whsec_abc", b'1700000000.{"id":"1"}', hashlib.sha256).hexdigest()
    assert signed == f"v1={expected}"
    assert signed != signature("whsec_abc", 1_700_000_001, body)
    assert signed != signature("whsec_abc", 1_700_000_000, b'{"id":"2"}')
    assert signed != signature("whsec_abd", 1_700_000_000, body)


def test_retries_back_off_exponentially_up_to_the_cap_with_bounded_jitter() -> None:
    exact = [retry_delay(n, base=5, cap=3600, jitter=1.0) for n in range(1, 12)]
    assert exact[:5] == [5, 10, 20, 40, 80]
    assert exact[-1] == 3600
    assert retry_delay(3, base=5, cap=3600, jitter=0.0) == 15  # 20 less a quarter
    for _ in range(200):
        assert 15 <= retry_delay(3, base=5, cap=3600) <= 20


def test_targets_are_absolute_https_urls_without_credentials() -> None:
    assert check_url("https://erp.example.com/hooks", allow_http=False, allow_private=False)
    assert check_url("http://erp.example.com/hooks", allow_http=True, allow_private=False)
    for good in (
        "https://bücher.example/x",
        "https://xn--bcher-kva.example:8443/",
        "https://[2001:db8::1]/",
    ):
        assert check_url(good, allow_http=False, allow_private=True)
    for bad, allow_http in (
        ("http://erp.example.com/hooks", False),
        ("ftp://erp.example.com/hooks", True),
        ("https:///hooks", False),
        ("/hooks", False),
        ("https://user:secret@erp.example.com/hooks", False),
        ("https://erp.example.com/" + "x" * 2000, False),
        ("https://127.0.0.1/hooks", False),
        ("https://[::1]:8443/hooks", False),
        ("https://LOCALHOST./hooks", False),
        ("https://example.com:99999/", False),  # a port the sender could never use
        ("https://example.com:0/", False),
        ("https://foo.localhost/hooks", False),
        ("https://127.1/hooks", False),  # numbers the resolver reads as addresses
        ("https://2130706433/hooks", False),
        ("https://0x7f000001/hooks", False),
        ("https://0177.0.0.1/hooks", False),
        ("https://exa mple.com/hooks", False),
    ):
        with pytest.raises(InvalidArgument) as refused:
            check_url(bad, allow_http=allow_http, allow_private=False)
        assert refused.value.violations[0].field == "url", bad


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.8", "172.16.4.4", "192.168.1.1", "169.254.169.254", "::1", "fd00::1",
     "0.0.0.0", "224.0.0.1", "100.64.0.1"],
)  # fmt: skip
def test_internal_addresses_are_refused_unless_allowed(address: str) -> None:
    assert not address_allowed(address, allow_private=False)
    assert address_allowed(address, allow_private=True)


def test_own_hosts_are_allowed_when_private_addresses_are() -> None:
    for url in ("https://127.0.0.1/hooks", "https://localhost/hooks", "https://[fd00::1]/h"):
        assert check_url(url, allow_http=False, allow_private=True)


async def test_a_send_is_refused_when_the_host_resolves_to_an_internal_address() -> None:
    assert await refusal("http://localhost:9/x", allow_private=False) == (
        "its host is a private, loopback or link-local address"
    )
    assert await refusal("http://10.0.0.1/x", allow_private=False) is not None
    assert await refusal("http://localhost:9/x", allow_private=True) is None
    assert await refusal("http://93.184.216.34/x", allow_private=False) is None


def test_public_addresses_are_allowed() -> None:
    assert address_allowed("93.184.216.34", allow_private=False)
    assert address_allowed("2606:2800:220:1:248:1893:25c8:1946", allow_private=False)
