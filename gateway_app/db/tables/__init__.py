"""SQLModel tables: the control database and the per-tenant database have separate metadata."""
