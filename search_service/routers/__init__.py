"""HTTP routers: parse, call a service, return a typed model."""
