"""Customer entities and their rules; no framework imports."""
