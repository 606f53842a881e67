"""Limits shared by the routers' path parameters."""

MAX_ROW_ID = 2**31 - 1
"""Largest row id accepted in a path: id columns are ``INTEGER`` (32-bit on
PostgreSQL, see the migrations). A larger one matches no row, but would reach the
database driver as an out-of-range value (a 500 on SQLite past 64 bits, a database
error on PostgreSQL past 32) instead of a plain 422."""
