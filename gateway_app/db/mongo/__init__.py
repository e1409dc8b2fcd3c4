"""MongoDB backend: a database per tenant (`tenant_<slug>`) and `console_main` for the registry."""
