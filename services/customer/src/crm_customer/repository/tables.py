"""The customer database schema (mirrored by migrations/)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from crm_platform.db.history import history_table
from crm_platform.db.schema import id_column, new_metadata, timestamp_columns, version_column
from crm_platform.events.schema import inbox_table, outbox_table

metadata = new_metadata()

# Names as search matches them (repository/search.py), lower-cased by the built-in Unicode
# collation (PostgreSQL 17+) whatever the database's locale, accents folded (`crm_fold`,
# migration 0017); stored in "C" collation, so the B-tree index serves prefix LIKE and name
# order alike. A contact's name is also there as last name + first name without a space, as
# Chinese names are written.
ACCOUNT_SEARCH_NAME = "crm_fold(lower((name || ' ' || legal_name) COLLATE pg_c_utf8))"
CONTACT_SEARCH_NAME = (
    "crm_fold(lower((first_name || ' ' || last_name || ' ' || last_name || first_name)"
    " COLLATE pg_c_utf8))"
)


def _json(name: str, empty: str = "[]") -> Column[object]:
    return Column(name, JSONB, nullable=False, server_default=text(f"'{empty}'::jsonb"))


def _strings(name: str, length: int) -> Column[object]:
    return Column(name, ARRAY(String(length)), nullable=False, server_default=text("'{}'"))


def _search_name(expression: str) -> list[Column[object]]:
    """The lower-cased name, and every prefix (to 12 characters) of each of its words
    (migration 0011's `word_prefixes`)."""
    prefixes = Computed(f"word_prefixes({expression})", persisted=True)
    return [
        Column(
            "search_name", Text(collation="C"), Computed(expression, persisted=True), nullable=False
        ),
        Column("name_prefixes", ARRAY(Text(collation="C")), prefixes, nullable=False),
    ]


def _nonempty_array_indexes(name: str, column: str) -> list[Index]:
    """Over the few rows whose array holds something (migration 0014): GIN for a search's
    few values, and the ids for an import's thousands (repository/search.py)."""
    nonempty = text(f"{column} <> '{{}}'")
    return [
        Index(name, column, postgresql_using="gin", postgresql_where=nonempty),
        Index(f"{name}_ids", "id", postgresql_where=nonempty),
    ]


def _search_indexes(table: str) -> list[Index]:
    return [
        Index(f"ix_{table}_search_name", "search_name", "id"),
        Index(f"ix_{table}_name_prefixes", "name_prefixes", postgresql_using="gin"),
        Index(
            f"ix_{table}_search_name_trgm",
            "search_name",
            postgresql_ops={"search_name": "gin_trgm_ops"},
            postgresql_using="gin",
        ),
        Index(f"ix_{table}_phone", "phone", postgresql_where=text("phone <> ''")),
        *_nonempty_array_indexes(f"ix_{table}_other_phones", "other_phones"),
        Index(f"ix_{table}_tags", "tags", postgresql_using="gin"),
        Index(
            f"ix_{table}_custom_fields",
            "custom_fields",
            postgresql_ops={"custom_fields": "jsonb_path_ops"},
            postgresql_using="gin",
        ),
    ]


def _profile(search_name: str) -> list[Column[object]]:
    """What accounts and contacts both keep besides their own fields."""
    return [
        _strings("other_phones", 32),
        _json("addresses"),
        _json("custom_fields", "{}"),
        Column("last_contacted_at", DateTime(timezone=True)),
        *_search_name(search_name),
    ]


def _ownership() -> list[Column[object]]:
    return [
        Column("owner_id", UUID(as_uuid=True), nullable=False),
        Column("team_id", UUID(as_uuid=True)),
        Column("partner_id", UUID(as_uuid=True)),
        Column("internal_notes", Text, nullable=False, server_default=""),
        Column("deleted_at", DateTime(timezone=True)),
    ]


def _merged_into(table: str) -> Column[object]:
    """Set on a record merged away (deleted) into another: the one that survived."""
    return Column("merged_into_id", UUID(as_uuid=True), ForeignKey(f"{table}.id"))


accounts = Table(
    "accounts",
    metadata,
    id_column(),
    version_column(),
    Column("name", String(200), nullable=False),
    Column("industry", String(100), nullable=False, server_default=""),
    Column("website", String(500), nullable=False, server_default=""),
    Column("phone", String(32), nullable=False, server_default=""),
    _strings("tags", 50),
    Column("parent_id", UUID(as_uuid=True), ForeignKey("accounts.id")),
    *_ownership(),
    Column("legal_name", String(200), nullable=False, server_default=""),
    Column("employees", Integer, nullable=False, server_default="0"),
    Column("lifecycle", String(20), nullable=False, server_default="prospect"),
    Column("credit_limit", JSONB),
    Column("credit_rating", String(20), nullable=False, server_default=""),
    _json("agreements"),
    *_profile(ACCOUNT_SEARCH_NAME),
    *timestamp_columns(),
    _merged_into("accounts"),
    Index("ix_accounts_owner_id", "owner_id", "id"),
    Index("ix_accounts_team_id", "team_id", "id"),
    Index("ix_accounts_partner_id", "partner_id", "id"),
    # Imports find the account a row names (domain/imports.py: name, case aside).
    # By name as imports look accounts up (search.with_keys): lower-cased by Unicode.
    Index("ix_accounts_lower_name", func.lower(text("name COLLATE pg_c_utf8"))),
    *_search_indexes("accounts"),
)

contacts = Table(
    "contacts",
    metadata,
    id_column(),
    version_column(),
    Column("first_name", String(100), nullable=False, server_default=""),
    Column("last_name", String(100), nullable=False, server_default=""),
    Column("email", String(254), nullable=False, server_default=""),
    Column("phone", String(32), nullable=False, server_default=""),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id")),
    Column("title", String(100), nullable=False, server_default=""),
    *_ownership(),
    _strings("other_emails", 254),
    _json("account_roles"),
    Column("birthday", Date),
    Column("preferred_channel", String(10), nullable=False, server_default=""),
    _json("consents"),
    _strings("tags", 50),
    *_profile(CONTACT_SEARCH_NAME),
    *timestamp_columns(),
    _merged_into("contacts"),
    Index("ix_contacts_owner_id", "owner_id", "id"),
    Index("ix_contacts_team_id", "team_id", "id"),
    Index("ix_contacts_partner_id", "partner_id", "id"),
    Index("ix_contacts_account_id", "account_id", "id"),
    *_search_indexes("contacts"),
    Index("ix_contacts_email", "email", postgresql_ops={"email": "text_pattern_ops"}),
    *_nonempty_array_indexes("ix_contacts_other_emails", "other_emails"),
    Index(
        "ix_contacts_account_roles",
        "account_roles",
        postgresql_ops={"account_roles": "jsonb_path_ops"},
        postgresql_using="gin",
    ),
)

imports = Table(
    "imports",
    metadata,
    id_column(),
    Column("entity", String(20), nullable=False),
    Column("mode", String(20), nullable=False),
    Column("default_region", String(2)),
    Column("dry_run", Boolean, nullable=False),
    Column("mapping", JSONB, nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("status", String(20), nullable=False),
    Column("error", Text, nullable=False, server_default=""),
    Column("headers", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("ignored_columns", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    *(
        Column(name, BigInteger, nullable=False, server_default="0")
        for name in ("total", "processed", "created", "updated", "skipped", "failed")
    ),
    Column("owner_id", UUID(as_uuid=True), nullable=False),
    Column("team_id", UUID(as_uuid=True)),
    Column("partner_id", UUID(as_uuid=True)),
    # Who started it, as the gateway signed it: the job acts with the same rights.
    Column("principal", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    # Which worker runs the job, until when: a job whose lease ran out is taken over.
    Column("lease_holder", UUID(as_uuid=True)),
    Column("lease_until", DateTime(timezone=True)),
    Index(
        "ix_imports_unfinished",
        "created_at",
        postgresql_where=text("status IN ('queued', 'running')"),
    ),
)

import_file_chunks = Table(
    "import_file_chunks",
    metadata,
    Column(
        "import_id",
        UUID(as_uuid=True),
        ForeignKey("imports.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

import_problems = Table(
    "import_problems",
    metadata,
    Column(
        "import_id",
        UUID(as_uuid=True),
        ForeignKey("imports.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("line", BigInteger, primary_key=True),
    Column("outcome", String(10), nullable=False),
    Column("reason", Text, nullable=False),
    Column("cells", ARRAY(Text), nullable=False),
)

segments = Table(
    "segments",
    metadata,
    id_column(),
    Column("name", String(200), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("filter", JSONB, nullable=False),
    Column("owner_id", UUID(as_uuid=True), nullable=False),
    Column("team_id", UUID(as_uuid=True)),
    Column("partner_id", UUID(as_uuid=True)),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
    Index("ix_segments_owner_id", "owner_id", "id"),
)

custom_fields = Table(
    "custom_fields",
    metadata,
    Column("entity", String(20), primary_key=True),
    Column("name", String(50), primary_key=True),
    Column("label", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    Column("options", ARRAY(Text), nullable=False),
    Column("max_length", Integer, nullable=False),
    Column("required", Boolean, nullable=False, server_default=false()),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The 360° timeline, fed by events (events/timeline.py). An event about several accounts
# (a contact at two companies) is one row per account, hence the key.
timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),  # the event's id
    Column("account_id", UUID(as_uuid=True), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("source", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("subject_id", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    Index(
        "ix_timeline_entries_account_occurred",
        "account_id",
        text("occurred_at DESC"),
        text("id DESC"),
    ),
)

# Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE (migration 0012).
loyalty_entries = Table(
    "loyalty_entries",
    metadata,
    id_column(),
    Column("record_type", String(20), nullable=False),
    Column("record_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("points", Integer, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("reference", String(200), nullable=False, server_default=""),
    Column("expires_at", DateTime(timezone=True)),
    Column("actor_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    CheckConstraint("record_type IN ('account', 'contact')", name="record_type"),
    CheckConstraint("kind IN ('earn', 'redeem', 'expire')", name="kind"),
    CheckConstraint("points BETWEEN 1 AND 1000000000", name="points"),
    CheckConstraint("balance_after >= 0", name="balance_after"),
    # A record's ledger in order, and its last entry (the balance) in one index read.
    Index("ix_loyalty_entries_ledger", "record_type", "record_id", "id"),
    # A retried earn or redeem for the same order is found instead of counted twice.
    Index(
        "ix_loyalty_entries_reference",
        "record_type",
        "record_id",
        "kind",
        "reference",
        unique=True,
        postgresql_where=text("reference <> ''"),
    ),
    # Earns that expire, by when: the due and the coming ones without a ledger scan.
    Index(
        "ix_loyalty_entries_expiring",
        "record_type",
        "record_id",
        "expires_at",
        postgresql_where=text("kind = 'earn' AND expires_at IS NOT NULL"),
    ),
    # The same earns across all ledgers, for the expiry sweep (migration 0015).
    Index(
        "ix_loyalty_entries_expires_at",
        "expires_at",
        postgresql_where=text("kind = 'earn' AND expires_at IS NOT NULL"),
    ),
)

field_history = history_table(metadata)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
