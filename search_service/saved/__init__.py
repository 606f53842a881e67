"""Employers' saved searches: rerun on a schedule, alerting on new candidates."""
