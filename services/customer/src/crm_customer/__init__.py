"""Customer service: the customer base (accounts and contacts)."""
