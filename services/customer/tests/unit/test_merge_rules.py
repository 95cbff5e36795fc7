"""The merge rules (domain/merge.py): field by field, lists unioned, primaries kept."""

import datetime as dt
import uuid

import pytest

from crm_customer.domain.accounts import Account
from crm_customer.domain.contacts import Contact
from crm_customer.domain.merge import mergeable_fields, merged_values, repointed_contact
from crm_customer.domain.records import ownership_change
from crm_customer.domain.values import AccountRole, Consent
from crm_platform.errors import InvalidArgument

OWNER = uuid.uuid4()
CONTACT_FIELDS = mergeable_fields(Contact, internal=True)
ACCOUNT_FIELDS = mergeable_fields(Account, internal=True)
T1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def contact(**values: object) -> Contact:
    found, _ = Contact.create(id=uuid.uuid4(), owner_id=OWNER, team_id=None, values=values)
    return found


def account(**values: object) -> Account:
    found, _ = Account.create(id=uuid.uuid4(), owner_id=OWNER, team_id=None, values=values)
    return found


def merge_contacts(s: Contact, d: Contact, **choices: str) -> dict[str, object]:
    return merged_values(s, d, fields=CONTACT_FIELDS, choices=choices)


def test_by_default_the_survivor_keeps_its_values_and_fills_empty_ones() -> None:
    survivor = contact(first_name="Anna", title="", birthday="1990-02-03")
    duplicate = contact(first_name="Ana", last_name="Kowalska", title="CFO", birthday="1991-01-01")
    assert merge_contacts(survivor, duplicate) == {"last_name": "Kowalska", "title": "CFO"}


def test_a_choice_takes_the_duplicates_value_or_keeps_the_survivors() -> None:
    survivor = contact(first_name="Anna", tags=["a"])
    duplicate = contact(first_name="Ana", last_name="Nowak", tags=["b"])
    assert merge_contacts(survivor, duplicate, first_name="duplicate", last_name="survivor",
                          tags="duplicate") == {"first_name": "Ana", "tags": ("b",)}  # fmt: skip


def test_lists_are_unioned_without_repeats_survivors_entries_first() -> None:
    survivor = contact(first_name="A", tags=["vip", "b2b"], addresses=[{"city": "Berlin"}])
    cities = [{"city": "Berlin"}, {"city": "Paris"}]
    duplicate = contact(first_name="A", tags=["b2b", "new"], addresses=cities)
    merged = merge_contacts(survivor, duplicate)
    assert merged["tags"] == ("vip", "b2b", "new")
    assert [a.city for a in merged["addresses"]] == ["Berlin", "Paris"]  # type: ignore[attr-defined]


def test_the_duplicates_different_email_and_phone_become_other_ones() -> None:
    survivor = contact(
        first_name="A", email="a@x.io", other_emails=["a2@x.io"], phone="+4930123456"
    )
    duplicate = contact(first_name="A", email="A@y.io", other_emails=["a2@x.io", "a@x.io"],
                        phone="+4930123456", other_phones=["+4930999999"])  # fmt: skip
    assert merge_contacts(survivor, duplicate) == {
        "other_emails": ("a2@x.io", "a@y.io"),
        "other_phones": ("+4930999999",),
    }


def test_the_survivors_email_moves_to_other_emails_when_the_duplicates_is_chosen() -> None:
    survivor = contact(first_name="A", email="old@x.io")
    duplicate = contact(first_name="A", email="new@x.io")
    assert merge_contacts(survivor, duplicate, email="duplicate") == {
        "email": "new@x.io",
        "other_emails": ("old@x.io",),
    }


def test_an_empty_email_is_filled_and_not_repeated_in_other_emails() -> None:
    survivor = contact(first_name="A")
    duplicate = contact(first_name="A", email="d@x.io", other_emails=["e@x.io"])
    assert merge_contacts(survivor, duplicate) == {"email": "d@x.io", "other_emails": ("e@x.io",)}


def test_consents_keep_the_latest_per_channel() -> None:
    survivor = contact(first_name="A", consents=[
        {"channel": "email", "granted": True, "recorded_at": T1},
        {"channel": "sms", "granted": True, "recorded_at": T2},
    ])  # fmt: skip
    duplicate = contact(first_name="A", consents=[
        {"channel": "email", "granted": False, "recorded_at": T2, "source": "form"},
        {"channel": "sms", "granted": False, "recorded_at": T1},
        {"channel": "phone", "granted": True, "recorded_at": T1},
    ])  # fmt: skip
    assert merge_contacts(survivor, duplicate)["consents"] == (
        Consent("email", False, T2, "form"),
        Consent("sms", True, T2),
        Consent("phone", True, T1),
    )


def test_the_duplicates_account_becomes_a_role_and_roles_are_unioned_by_account() -> None:
    mine, theirs, shared = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    survivor = contact(first_name="A", account_id=str(mine),
                       account_roles=[{"account_id": str(shared), "role": "buyer"}])  # fmt: skip
    duplicate = contact(first_name="A", account_id=str(theirs), account_roles=[
        {"account_id": str(shared), "role": "lawyer"},
        {"account_id": str(mine), "role": "cfo"},
    ])  # fmt: skip
    assert merge_contacts(survivor, duplicate) == {
        "account_roles": (AccountRole(shared, "buyer"), AccountRole(theirs, ""))
    }


def test_custom_fields_keep_every_name_with_the_survivors_value_first() -> None:
    survivor = contact(first_name="A", custom_fields={"tier": "gold"})
    duplicate = contact(first_name="A", custom_fields={"tier": "silver", "shoe": 42})
    assert merge_contacts(survivor, duplicate) == {"custom_fields": {"tier": "gold", "shoe": 42}}


def test_an_account_takes_the_unknown_head_count_and_never_becomes_its_own_parent() -> None:
    grandparent = uuid.uuid4()
    duplicate = account(name="Acme Ltd", employees=40, parent_id=str(grandparent))
    survivor = account(name="Acme", parent_id=str(duplicate.id))
    merged = merged_values(survivor, duplicate, fields=ACCOUNT_FIELDS, choices={})
    assert merged == {"employees": 40, "parent_id": grandparent}
    child_of_survivor = account(name="Acme Sub", parent_id=str(survivor.id))
    merged = merged_values(survivor, child_of_survivor, fields=ACCOUNT_FIELDS,
                           choices={"parent_id": "duplicate"})  # fmt: skip
    assert merged["parent_id"] is None


def test_internal_notes_are_merged_only_for_callers_who_see_them() -> None:
    survivor = contact(first_name="A")
    duplicate = contact(first_name="A", internal_notes="pays late")
    assert merge_contacts(survivor, duplicate) == {"internal_notes": "pays late"}
    partner_fields = mergeable_fields(Contact, internal=False)
    assert merged_values(survivor, duplicate, fields=partner_fields, choices={}) == {}


def test_bad_choices_are_refused_by_field() -> None:
    survivor, duplicate = contact(first_name="A"), contact(first_name="B")
    with pytest.raises(InvalidArgument) as refused:
        merge_contacts(survivor, duplicate, first_name="both", owner_id="duplicate")
    assert {(v.field, v.description) for v in refused.value.violations} == {
        ("fields.first_name", "must be survivor or duplicate"),
        ("fields.owner_id", "is not a field a merge can settle"),
    }


def test_a_contact_follows_its_merged_away_account_and_keeps_one_role_per_account() -> None:
    gone, survivor, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at_gone = contact(first_name="A", account_id=str(gone),
                      account_roles=[{"account_id": str(survivor), "role": "cfo"}])  # fmt: skip
    assert repointed_contact(at_gone, gone, survivor) == {
        "account_id": survivor,
        "account_roles": (),
    }
    role_at_gone = contact(first_name="B", account_id=str(other), account_roles=[
        {"account_id": str(gone), "role": "lawyer"},
    ])  # fmt: skip
    assert repointed_contact(role_at_gone, gone, survivor) == {
        "account_roles": (AccountRole(survivor, "lawyer"),)
    }
    unrelated = contact(first_name="C", account_id=str(other))
    assert repointed_contact(unrelated, gone, survivor) == {}


@pytest.mark.parametrize("survivor_first", [False, True])
def test_a_role_the_contact_holds_at_the_survivor_outlives_the_merged_away_ones(
    survivor_first: bool,
) -> None:
    gone, survivor, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    roles = [
        {"account_id": str(gone), "role": "dup-role"},
        {"account_id": str(other), "role": "other-role"},
        {"account_id": str(survivor), "role": "survivor-role"},
    ]
    held = contact(first_name="D", account_roles=roles[::-1] if survivor_first else roles)
    kept = repointed_contact(held, gone, survivor)["account_roles"]
    assert sorted(kept, key=lambda role: role.role) == [
        AccountRole(other, "other-role"),
        AccountRole(survivor, "survivor-role"),
    ]


def test_an_account_deleted_leaves_its_contacts_without_it() -> None:
    gone, other = uuid.uuid4(), uuid.uuid4()
    employee = contact(first_name="E", account_id=str(gone))
    assert repointed_contact(employee, gone, None) == {"account_id": None}
    roles = [{"account_id": str(gone), "role": "lawyer"}, {"account_id": str(other), "role": "cfo"}]
    adviser = contact(first_name="A", account_roles=roles)
    assert repointed_contact(adviser, gone, None) == {"account_roles": (AccountRole(other, "cfo"),)}


def test_a_transfer_is_an_owner_changed_fact_besides_the_update() -> None:
    record = account(name="Acme")
    successor, team = uuid.uuid4(), uuid.uuid4()
    _, event = record.update({"owner_id": str(successor), "team_id": str(team), "name": "Acme 2"})
    assert event is not None
    handed_over = ownership_change(event)
    assert handed_over is not None
    assert handed_over.kind == "owner_changed"
    assert [(c.field, c.old, c.new) for c in handed_over.changes] == [
        ("owner_id", OWNER, successor),
        ("team_id", None, team),
    ]
    _, renamed = record.update({"name": "Acme 3"})
    assert renamed is not None
    assert ownership_change(renamed) is None
