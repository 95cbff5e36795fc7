"""Shared plumbing of the CRM suite, split by concern; none of it knows a business domain."""
