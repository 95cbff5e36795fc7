"""The one SQLAlchemy MetaData of the gateway's database: every package's tables join it,
so migrations and the schema-drift check see them all."""

from crm_platform.db.schema import new_metadata

metadata = new_metadata()
