"""The complete customer model: legal name, size, addresses, lifecycle, credit, agreements,
more phones and emails, consent, account roles, tags on contacts, custom fields.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _json(name: str, empty: str = "[]") -> sa.Column[object]:
    return sa.Column(name, JSONB, nullable=False, server_default=sa.text(f"'{empty}'::jsonb"))


def _strings(name: str, length: int) -> sa.Column[object]:
    return sa.Column(
        name, sa.ARRAY(sa.String(length)), nullable=False, server_default=sa.text("'{}'")
    )


ACCOUNT_COLUMNS = (
    lambda: sa.Column("legal_name", sa.String(200), nullable=False, server_default=""),
    lambda: sa.Column("employees", sa.Integer, nullable=False, server_default="0"),
    lambda: _strings("other_phones", 32),
    lambda: _json("addresses"),
    lambda: sa.Column("lifecycle", sa.String(20), nullable=False, server_default="prospect"),
    lambda: sa.Column("credit_limit", JSONB),
    lambda: sa.Column("credit_rating", sa.String(20), nullable=False, server_default=""),
    lambda: _json("agreements"),
    lambda: _json("custom_fields", "{}"),
    lambda: sa.Column("last_contacted_at", sa.DateTime(timezone=True)),
)
CONTACT_COLUMNS = (
    lambda: _strings("other_emails", 254),
    lambda: _strings("other_phones", 32),
    lambda: _json("account_roles"),
    lambda: _json("addresses"),
    lambda: sa.Column("birthday", sa.Date),
    lambda: sa.Column("preferred_channel", sa.String(10), nullable=False, server_default=""),
    lambda: _json("consents"),
    lambda: _strings("tags", 50),
    lambda: _json("custom_fields", "{}"),
    lambda: sa.Column("last_contacted_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    for table, columns in (("accounts", ACCOUNT_COLUMNS), ("contacts", CONTACT_COLUMNS)):
        for column in columns:
            op.add_column(table, column())


def downgrade() -> None:
    for table, columns in (("accounts", ACCOUNT_COLUMNS), ("contacts", CONTACT_COLUMNS)):
        for column in reversed(columns):
            op.drop_column(table, column().name)
