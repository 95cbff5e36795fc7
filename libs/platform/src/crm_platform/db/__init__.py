"""Database plumbing: engine and sessions, schema conventions, migrations, visibility."""
