"""Employer search: the hybrid query, SQL hydration and explanations."""
