"""Alerts: rules evaluated per tenant, events, and their notification channels (e-mail, webhooks)."""
