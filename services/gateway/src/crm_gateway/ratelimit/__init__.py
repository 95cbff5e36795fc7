"""Per-principal request budgets that hold across every gateway process and replica."""
