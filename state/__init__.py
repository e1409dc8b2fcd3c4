"""Reflex State classes, one per console area. They call services only (never the database)."""
