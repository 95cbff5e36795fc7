"""SQLAlchemy tables and repositories of the sales database."""
