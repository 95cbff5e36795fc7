"""Inbound event handlers."""
