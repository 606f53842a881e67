"""Student profiles: the owner's API, the one-transaction dual write, the indexed
document's versions and privacy rules (``visibility``), strength, imports and demo data."""
