"""Sales entities and rules; no framework imports."""
