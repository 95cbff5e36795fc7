"""Commands and queries, one module per aggregate; Protocols name what they need."""
