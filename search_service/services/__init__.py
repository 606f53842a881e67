"""Business logic: services call repositories and flush; callers own the transaction."""
