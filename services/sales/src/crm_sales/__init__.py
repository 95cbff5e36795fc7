"""Sales service: the sales funnel; for now its local projection of customer accounts."""
