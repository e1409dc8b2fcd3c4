"""HTTP faces of the gateway: client API (/v1), management API (/admin/v1), health."""
