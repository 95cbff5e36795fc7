"""Who is calling: the signed internal principal and permission checks."""
