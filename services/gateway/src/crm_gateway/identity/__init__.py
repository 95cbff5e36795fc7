"""Who may call the gateway: users, their roles and what those roles grant."""
