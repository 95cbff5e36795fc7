"""SQLAlchemy tables and repositories of the customer database."""
