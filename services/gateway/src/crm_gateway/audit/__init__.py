"""Audit trail: who changed what, when, from where, before and after (issue 4)."""
