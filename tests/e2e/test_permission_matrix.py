"""Who may read, list, edit, transfer and delete which record, through the public API
against the real services: two reps in sibling teams, their two managers, a manager above
both, an admin and two partner keys (issue 4's permission matrix).

The expectations are written out by hand from DESIGN §7 (reps: own records; managers: their
team subtree; partners: their partner's records; admin: all), not computed by the code
under test. A record the caller may not see is a 404; one it sees but may not change, 403.
"""

import itertools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

ENTITIES = ("accounts", "contacts")
ACTORS = ("rep_north", "rep_south", "mgr_north", "mgr_south", "head", "admin", "key_1", "key_2")
# Whose records exist: each rep's own, and one linked to each partner (created by admin).
RECORDS = ("rep_north", "rep_south", "partner_1", "partner_2")

SEES = {
    "rep_north": {"rep_north"},
    "rep_south": {"rep_south"},
    "mgr_north": {"rep_north"},
    "mgr_south": {"rep_south"},
    "head": {"rep_north", "rep_south"},
    "admin": set(RECORDS),
    "key_1": {"partner_1"},
    "key_2": {"partner_2"},
}
# Partners edit their records; reps edit their own; managers their team's; admin all.
EDITS = SEES
# Sales reps and partners hold no transfer or delete grant at all.
TRANSFERS = {**SEES, "rep_north": set(), "rep_south": set(), "key_1": set(), "key_2": set()}
DELETES = TRANSFERS
HOLDS_TRANSFER = {"mgr_north", "mgr_south", "head", "admin"}

PASSWORD = "correct horse battery staple"
IDENTITY_REFRESH_SECONDS = 2.0


@dataclass
class World:
    client: httpx.Client
    headers: dict[str, dict[str, str]]  # actor -> credentials
    subject: dict[str, str]  # actor -> user id (users only)
    partner: dict[str, str]  # partner record kind -> partner id
    teams: dict[str, str]
    records: dict[tuple[str, str], dict[str, Any]]  # (entity, kind) -> record

    def create(self, entity: str, kind: str, name: str) -> dict[str, Any]:
        """A new record of `kind`: created by that rep, or by admin linked to that partner."""
        body: dict[str, Any] = {"name": name} if entity == "accounts" else {"first_name": name}
        creator = kind if kind.startswith("rep_") else "admin"
        if kind.startswith("partner_"):
            body["partner_id"] = self.partner[kind]
        reply = self.client.post(f"/api/v1/{entity}", json=body, headers=self.headers[creator])
        assert reply.status_code == 201, reply.text
        return dict(reply.json(), etag=reply.headers["ETag"])

    def as_admin(self, entity: str, record_id: str) -> httpx.Response:
        return self.client.get(f"/api/v1/{entity}/{record_id}", headers=self.headers["admin"])


def admin_post(client: httpx.Client, auth: dict[str, str], path: str, body: Any) -> Any:
    reply = client.post(path, json=body, headers=auth)
    assert reply.status_code == 201, reply.text
    return reply.json()


@pytest.fixture(scope="module")
def world(client: httpx.Client, auth: dict[str, str]) -> World:
    run = uuid.uuid4().hex[:8]
    # A partner system that also creates records, through a custom role. Other gateway
    # processes learn of a new role within CRM_GATEWAY_IDENTITY_REFRESH_SECONDS (2 s).
    grants = {"create": "own"}
    writer = {
        "name": f"partner_writer_{run}",
        "permissions": {"account": grants, "contact": grants},
    }
    admin_post(client, auth, "/api/v1/roles", writer)
    role_known_everywhere = time.monotonic() + IDENTITY_REFRESH_SECONDS + 0.5
    sales = admin_post(client, auth, "/api/v1/teams", {"name": f"Sales {run}"})
    teams = {"head": sales["id"]}
    for region in ("north", "south"):
        child = {"name": f"{region} {run}", "parent_id": sales["id"]}
        teams[region] = admin_post(client, auth, "/api/v1/teams", child)["id"]
    users = {
        "rep_north": ("sales_rep", teams["north"]),
        "rep_south": ("sales_rep", teams["south"]),
        "mgr_north": ("sales_manager", teams["north"]),
        "mgr_south": ("sales_manager", teams["south"]),
        "head": ("sales_manager", teams["head"]),
    }
    headers, subject = {"admin": auth}, {}
    me = client.get("/api/v1/me", headers=auth)
    subject["admin"] = me.json()["id"]
    for actor, (role, team) in users.items():
        email = f"{actor}.{run}@example.com"
        created = admin_post(
            client,
            auth,
            "/api/v1/users",
            {"email": email, "password": PASSWORD, "roles": [role], "team_id": team},
        )
        subject[actor] = created["id"]
        token = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
        assert token.status_code == 200, token.text
        headers[actor] = {"Authorization": f"Bearer {token.json()['access_token']}"}
    partner = {"partner_1": str(uuid.uuid4()), "partner_2": str(uuid.uuid4())}
    keys = {
        "key_1": (["partner"], "partner_1"),
        "key_2": (["partner"], "partner_2"),
        "key_1_writer": (["partner", writer["name"]], "partner_1"),
    }
    for actor, (roles, linked) in keys.items():
        key = {"name": f"{actor} {run}", "roles": roles, "partner_id": partner[linked]}
        headers[actor] = {"X-API-Key": admin_post(client, auth, "/api/v1/api-keys", key)["secret"]}
    found = World(client, headers, subject, partner, teams, {})
    for entity, kind in itertools.product(ENTITIES, RECORDS):
        found.records[entity, kind] = found.create(entity, kind, f"Shared {kind}")
    time.sleep(max(0.0, role_known_everywhere - time.monotonic()))
    return found


def cells(
    table: dict[str, set[str]], entities: tuple[str, ...] = ENTITIES
) -> Iterator[tuple[str, str, str, bool]]:
    for entity, actor, kind in itertools.product(entities, ACTORS, RECORDS):
        yield entity, actor, kind, kind in table[actor]


def all_items(client: httpx.Client, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500}
    while True:
        reply = client.get(path, params=params, headers=headers)
        assert reply.status_code == 200, reply.text
        page = reply.json()
        items += page["items"]
        if not page["next_cursor"]:
            return items
        params["cursor"] = page["next_cursor"]


@pytest.mark.parametrize(("entity", "actor", "kind", "allowed"), list(cells(SEES)))
def test_read(world: World, entity: str, actor: str, kind: str, allowed: bool) -> None:
    record = world.records[entity, kind]
    reply = world.client.get(f"/api/v1/{entity}/{record['id']}", headers=world.headers[actor])
    assert reply.status_code == (200 if allowed else 404), reply.text
    if allowed:
        assert reply.json()["id"] == record["id"]
        assert ("internal_notes" in reply.json()) is not actor.startswith("key_")


@pytest.mark.parametrize(("entity", "actor", "kind", "allowed"), list(cells(SEES, ("accounts",))))
def test_an_accounts_contacts(
    world: World, entity: str, actor: str, kind: str, allowed: bool
) -> None:
    account = world.records[entity, kind]
    path = f"/api/v1/accounts/{account['id']}/contacts"
    reply = world.client.get(path, headers=world.headers[actor])
    assert reply.status_code == (200 if allowed else 404), reply.text


def belongs(world: World, actor: str, item: dict[str, Any]) -> bool:
    """Whether `item` may appear in `actor`'s lists, by DESIGN §7's rules."""
    if actor == "admin":
        return True
    if actor.startswith("key_"):
        return item["partner_id"] == world.partner[f"partner_{actor[-1]}"]
    if item["owner_id"] == world.subject[actor]:
        return True
    team_of = {"mgr_north": {"north"}, "mgr_south": {"south"}, "head": {"head", "north", "south"}}
    return item["team_id"] in {world.teams[t] for t in team_of.get(actor, set())}


@pytest.mark.parametrize(("entity", "actor"), list(itertools.product(ENTITIES, ACTORS)))
def test_lists_hold_no_foreign_row(world: World, entity: str, actor: str) -> None:
    listed = all_items(world.client, f"/api/v1/{entity}", world.headers[actor])
    foreign = [item["id"] for item in listed if not belongs(world, actor, item)]
    assert foreign == []
    ids = {item["id"] for item in listed}
    shown = {kind for kind in RECORDS if world.records[entity, kind]["id"] in ids}
    assert shown == SEES[actor]


@pytest.mark.parametrize(("entity", "actor", "kind", "allowed"), list(cells(EDITS)))
def test_edit(world: World, entity: str, actor: str, kind: str, allowed: bool) -> None:
    record = world.create(entity, kind, "Before")
    field = "name" if entity == "accounts" else "first_name"
    reply = world.client.patch(
        f"/api/v1/{entity}/{record['id']}",
        json={field: "After"},
        headers={**world.headers[actor], "If-Match": record["etag"]},
    )
    seen = kind in SEES[actor]
    assert reply.status_code == (200 if allowed else 403 if seen else 404), reply.text
    after = world.as_admin(entity, record["id"]).json()
    assert after[field] == ("After" if allowed else "Before")


@pytest.mark.parametrize(("entity", "actor", "kind", "allowed"), list(cells(TRANSFERS)))
def test_transfer(world: World, entity: str, actor: str, kind: str, allowed: bool) -> None:
    record = world.create(entity, kind, "Transferred")
    new_owner = world.subject.get(actor, world.subject["admin"])
    reply = world.client.patch(
        f"/api/v1/{entity}/{record['id']}",
        json={"owner_id": new_owner},
        headers={**world.headers[actor], "If-Match": record["etag"]},
    )
    if actor not in HOLDS_TRANSFER:
        expected = 422  # asking for a field one may never set, whatever the record
    else:
        expected = 200 if allowed else 403 if kind in SEES[actor] else 404
    assert reply.status_code == expected, reply.text
    after = world.as_admin(entity, record["id"]).json()
    assert after["owner_id"] == (new_owner if allowed else record["owner_id"])


@pytest.mark.parametrize(("entity", "actor", "kind", "allowed"), list(cells(DELETES)))
def test_delete(world: World, entity: str, actor: str, kind: str, allowed: bool) -> None:
    record = world.create(entity, kind, "Doomed")
    reply = world.client.delete(
        f"/api/v1/{entity}/{record['id']}",
        headers={**world.headers[actor], "If-Match": record["etag"]},
    )
    seen = kind in SEES[actor]
    assert reply.status_code == (204 if allowed else 403 if seen else 404), reply.text
    assert world.as_admin(entity, record["id"]).status_code == (404 if allowed else 200)


@pytest.mark.parametrize("actor", ACTORS)
def test_only_admin_reaches_the_gateways_own_records(world: World, actor: str) -> None:
    key_id = world.client.get("/api/v1/api-keys", headers=world.headers["admin"]).json()
    paths = [
        f"/api/v1/users/{world.subject['rep_north']}",
        f"/api/v1/teams/{world.teams['north']}",
        f"/api/v1/api-keys/{key_id['items'][0]['id']}",
        "/api/v1/audit-events",
    ]
    for path in paths:
        reply = world.client.get(path, headers=world.headers[actor])
        assert reply.status_code == (200 if actor == "admin" else 403), (path, reply.text)


# Mass assignment: fields a caller may not set get a 422 and change nothing.
SERVER_FIELDS = [
    {"id": str(uuid.uuid4())},
    {"version": 7},
    {"created_at": "2020-01-01T00:00:00Z"},
    {"updated_at": "2020-01-01T00:00:00Z"},
    {"deleted_at": "2020-01-01T00:00:00Z"},
]
# Per actor: fields its grants forbid (a rep holds no transfer; partners never relink).
FORBIDDEN_TO = {
    "rep_north": [{"owner_id": str(uuid.uuid4())}, {"team_id": str(uuid.uuid4())}],
    "key_1": [
        {"owner_id": str(uuid.uuid4())},
        {"partner_id": str(uuid.uuid4())},
        {"internal_notes": "mine now"},
    ],
}
OWN_RECORD = {"rep_north": "rep_north", "key_1": "partner_1"}
# The partner key above may not create at all (403); this one may, through a custom role.
CREATOR = {"rep_north": "rep_north", "key_1": "key_1_writer"}


def mass_assignment_cases() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for entity, actor in itertools.product(ENTITIES, OWN_RECORD):
        for body in SERVER_FIELDS + FORBIDDEN_TO[actor]:
            yield entity, actor, body


@pytest.mark.parametrize(("entity", "actor", "body"), list(mass_assignment_cases()))
def test_an_update_of_a_field_not_for_the_caller_is_refused(
    world: World, entity: str, actor: str, body: dict[str, Any]
) -> None:
    record = world.create(entity, OWN_RECORD[actor], "Guarded")
    before = world.as_admin(entity, record["id"]).json()
    reply = world.client.patch(
        f"/api/v1/{entity}/{record['id']}",
        json=body,
        headers={**world.headers[actor], "If-Match": record["etag"]},
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"][0]["field"].split(".")[-1] in body
    assert world.as_admin(entity, record["id"]).json() == before


@pytest.mark.parametrize(("entity", "actor", "body"), list(mass_assignment_cases()))
def test_a_create_with_a_field_not_for_the_caller_is_refused(
    world: World, entity: str, actor: str, body: dict[str, Any]
) -> None:
    marker = f"Smuggled {uuid.uuid4().hex[:8]}"
    named = {"name": marker} if entity == "accounts" else {"first_name": marker}
    reply = world.client.post(
        f"/api/v1/{entity}", json=named | body, headers=world.headers[CREATOR[actor]]
    )
    assert reply.status_code == 422, reply.text
    listed = all_items(world.client, f"/api/v1/{entity}", world.headers["admin"])
    assert [item for item in listed if marker in item.values()] == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/users", {"password_hash": "$argon2id$forged"}),
        ("/api/v1/users", {"id": str(uuid.uuid4())}),
        ("/api/v1/users", {"version": 3}),
        ("/api/v1/teams", {"version": 3}),
        ("/api/v1/api-keys", {"secret": "crm_chosen_by_the_caller"}),
        ("/api/v1/api-keys", {"key_hash": "00" * 32}),
        ("/api/v1/api-keys", {"revoked_at": "2020-01-01T00:00:00Z"}),
    ],
)
def test_the_gateways_own_records_refuse_server_fields(
    world: World, path: str, body: dict[str, Any]
) -> None:
    valid = {
        "/api/v1/users": {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
        "/api/v1/teams": {"name": f"Team {uuid.uuid4().hex[:8]}"},
        "/api/v1/api-keys": {"name": f"Key {uuid.uuid4().hex[:8]}", "roles": ["analyst"]},
    }[path]
    admin = world.headers["admin"]
    before = len(all_items(world.client, path, admin))
    reply = world.client.post(path, json=valid | body, headers=admin)
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"][0]["field"].split(".")[-1] in body
    assert len(all_items(world.client, path, admin)) == before
