"""Users, the identity hub: lookups, Clerk sync (webhooks), API keys, the ledger,
key/value data, and their HTTP routes."""
