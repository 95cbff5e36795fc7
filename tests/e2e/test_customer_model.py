"""The complete account and contact model through the gateway and the real customer service:
structured values go in, come back normalized, change by merge patch, and bad ones are a 422
that changes nothing."""

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

ACCOUNT = {
    "name": "Acme Shanghai",
    "legal_name": "Acme (Shanghai) Trading Co., Ltd.",
    "employees": 120,
    "phone": "+86 21 6123 4567",
    "other_phones": ["+86 138 0013 8000"],
    "addresses": [
        {"kind": "billing", "street": "1 Century Ave", "city": "Shanghai", "country": "cn"}
    ],
    "lifecycle": "customer",
    "credit_limit": {"value": "50000.00", "currency": "CNY"},
    "credit_rating": "A",
    "agreements": [{"reference": "MSA-2026-7", "starts_on": "2026-01-01"}],
    "tags": ["key-account"],
}


def create(client: httpx.Client, auth: dict[str, str], path: str, body: Any) -> httpx.Response:
    reply = client.post(path, json=body, headers=auth)
    assert reply.status_code == 201, reply.text
    return reply


def test_an_account_keeps_its_complete_profile(client: httpx.Client, auth: dict[str, str]) -> None:
    created = create(client, auth, "/api/v1/accounts", ACCOUNT).json()
    read = client.get(f"/api/v1/accounts/{created['id']}", headers=auth).json()
    assert {**read, "likely_duplicates": created["likely_duplicates"]} == created
    assert read["legal_name"] == ACCOUNT["legal_name"]
    assert read["employees"] == 120
    assert read["phone"] == "+862161234567"
    assert read["other_phones"] == ["+8613800138000"]
    assert read["addresses"] == [
        {
            "kind": "billing",
            "street": "1 Century Ave",
            "city": "Shanghai",
            "region": "",
            "postal_code": "",
            "country": "CN",
        }
    ]
    assert (read["lifecycle"], read["credit_rating"]) == ("customer", "A")
    assert read["credit_limit"] == {"value": "50000.00", "currency": "CNY"}
    assert read["agreements"] == [
        {"reference": "MSA-2026-7", "starts_on": "2026-01-01", "ends_on": None, "description": ""}
    ]
    assert read["custom_fields"] == {}
    assert read["last_contacted_at"] is None

    patched = client.patch(
        f"/api/v1/accounts/{created['id']}",
        json={"credit_limit": None, "lifecycle": "former", "addresses": []},
        headers={**auth, "If-Match": f'"{read["version"]}"'},
    )
    assert patched.status_code == 200, patched.text
    after = patched.json()
    assert (after["credit_limit"], after["lifecycle"], after["addresses"]) == (None, "former", [])
    assert after["agreements"] == read["agreements"]  # untouched


def test_a_contact_keeps_consent_and_roles_at_several_accounts(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    employer = create(client, auth, "/api/v1/accounts", {"name": "Employer"}).json()["id"]
    client_firm = create(client, auth, "/api/v1/accounts", {"name": "Client"}).json()["id"]
    body = {
        "first_name": "伟",
        "last_name": "张",
        "email": "Wei.Zhang@Example.com",
        "other_emails": ["wei@private.example"],
        "phone": "+86 138 0013 8001",
        "account_id": employer,
        "account_roles": [{"account_id": client_firm, "role": "purchasing"}],
        "birthday": "1985-03-09",
        "preferred_channel": "sms",
        "consents": [
            {"channel": "sms", "granted": True, "source": "trade fair"},
            {
                "channel": "email",
                "granted": False,
                "recorded_at": "2026-05-01T08:00:00+08:00",
                "source": "unsubscribe link",
            },
        ],
        "tags": ["vip"],
    }
    created = create(client, auth, "/api/v1/contacts", body).json()
    read = client.get(f"/api/v1/contacts/{created['id']}", headers=auth).json()
    assert read["email"] == "wei.zhang@example.com"
    assert read["account_roles"] == [{"account_id": client_firm, "role": "purchasing"}]
    assert (read["birthday"], read["preferred_channel"], read["tags"]) == (
        "1985-03-09",
        "sms",
        ["vip"],
    )
    email, sms = read["consents"]  # one per channel, in channel order
    assert (email["channel"], email["granted"], email["source"]) == (
        "email",
        False,
        "unsubscribe link",
    )
    assert email["recorded_at"] == "2026-05-01T00:00:00Z"
    assert (sms["channel"], sms["granted"]) == ("sms", True)
    assert sms["recorded_at"].endswith("Z")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/accounts", {**ACCOUNT, "lifecycle": "lost"}, "lifecycle"),
        ("/api/v1/accounts", {**ACCOUNT, "employees": -3}, "employees"),
        ("/api/v1/accounts", {**ACCOUNT, "employees": "12"}, "employees"),
        (
            "/api/v1/accounts",
            {**ACCOUNT, "credit_limit": {"value": "lots", "currency": "CNY"}},
            "credit_limit",
        ),
        (
            "/api/v1/accounts",
            {**ACCOUNT, "addresses": [{"country": "ZZ", "city": "X"}]},
            "addresses",
        ),
        (
            "/api/v1/accounts",
            {**ACCOUNT, "agreements": [{"starts_on": "2026-01-01"}]},
            "agreements",
        ),
        ("/api/v1/accounts", {**ACCOUNT, "custom_fields": {"x": [1]}}, "custom_fields"),
        ("/api/v1/contacts", {"first_name": "A", "birthday": "2999-01-01"}, "birthday"),
        ("/api/v1/contacts", {"first_name": "A", "consents": [{"channel": "fax"}]}, "consents"),
        ("/api/v1/contacts", {"first_name": "A", "other_emails": ["nope"]}, "other_emails"),
        (
            "/api/v1/contacts",
            {"first_name": "A", "account_roles": [{"account_id": str(uuid.uuid4())}]},
            "account_roles",
        ),
    ],
)
def test_bad_values_are_422_naming_the_field_and_create_nothing(
    client: httpx.Client, auth: dict[str, str], path: str, body: Any, field: str
) -> None:
    before = client.get(path, params={"limit": 500}, headers=auth).json()["items"]
    reply = client.post(path, json=body, headers=auth)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert any(field in str(e.get("field", "")) for e in reply.json()["errors"]), reply.json()
    assert client.get(path, params={"limit": 500}, headers=auth).json()["items"] == before


def test_contacts_are_searched_and_filtered_through_the_gateway(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:8]  # other tests share the stack's database
    account = create(client, auth, "/api/v1/accounts", {"name": f"Zeta {marker}"}).json()["id"]
    for first, last, phone in (("Marta", "Kowalska", "+48 22 123 45 67"), ("Marek", "Nowak", "")):
        body = {"first_name": first, "last_name": last, "phone": phone, "tags": [marker]}
        create(client, auth, "/api/v1/contacts", {**body, "account_id": account})

    def names(**params: Any) -> list[str]:
        reply = client.get("/api/v1/contacts", params={"tag": marker, **params}, headers=auth)
        assert reply.status_code == 200, reply.text
        return [c["first_name"] for c in reply.json()["items"]]

    assert names(order_by="name") == ["Marek", "Marta"]
    assert names(q="kowalsk") == ["Marta"]
    assert names(q="kowlaska") == ["Marta"]  # a typo
    assert names(phone="22 123 45 67", region="PL") == ["Marta"]
    assert names(company=f"zeta {marker}", order_by="-name") == ["Marta", "Marek"]
    first = client.get(
        "/api/v1/contacts", params={"tag": marker, "order_by": "name", "limit": 1}, headers=auth
    ).json()
    rest = client.get(
        "/api/v1/contacts",
        params={"tag": marker, "order_by": "name", "limit": 1, "cursor": first["next_cursor"]},
        headers=auth,
    ).json()
    assert [c["first_name"] for c in first["items"] + rest["items"]] == ["Marek", "Marta"]
    assert rest["next_cursor"] is None
    at_account = client.get(
        f"/api/v1/accounts/{account}/contacts", params={"q": "mar"}, headers=auth
    ).json()
    assert sorted(c["first_name"] for c in at_account["items"]) == ["Marek", "Marta"]

    for bad in (
        {"order_by": "shoe_size"},
        {"not_contacted_days": "-1"},
        {"custom_field": "no-colon"},
        {"phone": "12"},
        {"region": "XXX"},
    ):
        reply = client.get("/api/v1/contacts", params=bad, headers=auth)
        assert reply.status_code == 422, (bad, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json")


def test_creating_a_likely_duplicate_reports_it(client: httpx.Client, auth: dict[str, str]) -> None:
    email = f"dup-{uuid.uuid4().hex[:8]}@example.com"
    first = create(client, auth, "/api/v1/contacts", {"first_name": "Ida", "email": email})
    assert first.json()["likely_duplicates"] == []
    again = create(
        client, auth, "/api/v1/contacts", {"first_name": "Ida B.", "email": email.upper()}
    )
    assert again.json()["likely_duplicates"] == [
        {"id": first.json()["id"], "reasons": ["same_email"]}
    ]
    # The record itself is the same as when read back, duplicates aside.
    read = client.get(f"/api/v1/contacts/{again.json()['id']}", headers=auth).json()
    assert {k: v for k, v in again.json().items() if k != "likely_duplicates"} == read
