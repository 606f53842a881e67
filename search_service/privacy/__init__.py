"""GDPR across domains: export, account deletion, retention purge."""
