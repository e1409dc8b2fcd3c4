"""What a test's deployment holds at rest, whichever backend runs it (for secrets-never-stored checks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import bson


def stored_blobs(platform, data_dir: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every SQLite file under DATA_DIR, or of every collection of this deployment's
    MongoDB databases (all documents BSON-encoded)."""
    for path in sorted(data_dir.glob("*.sqlite*")):
        yield path.name, path.read_bytes()
    store = platform.store
    if store.name != "mongodb":
        return
    client = store.client
    for db_name in client.list_database_names():
        if not db_name.startswith(store.prefix) or not store.prefix:
            continue
        for collection in client[db_name].list_collection_names():
            blob = b"".join(bson.encode(doc) for doc in client[db_name][collection].find())
            yield f"{db_name}.{collection}", blob

