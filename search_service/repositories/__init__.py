"""All SQL of the service: small functions over a ``Session``; callers flush/commit."""
