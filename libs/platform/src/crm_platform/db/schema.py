"""Schema conventions every service follows: constraint names, ids, versions, timestamps."""

import datetime as dt

from sqlalchemy import BigInteger, Column, DateTime, MetaData, func
from sqlalchemy.dialects.postgresql import UUID

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def id_column() -> Column[object]:
    return Column("id", UUID(as_uuid=True), primary_key=True)


def version_column() -> Column[int]:
    """Optimistic concurrency: every update states the version it read (`WHERE version = :v`)."""
    return Column("version", BigInteger, nullable=False, default=1)


def timestamp_columns() -> list[Column[dt.datetime]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
