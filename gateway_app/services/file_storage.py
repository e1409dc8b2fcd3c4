"""The gateway's own file storage: uploads for vector stores, one directory per tenant under DATA_DIR."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO

from gateway_app.core.errors import NotFound

LOCAL_PROVIDER = ""  # FileRecord.provider_id of files the gateway keeps itself
COPY_CHUNK = 1024 * 1024


def new_file_id() -> str:
    """An id shaped like OpenAI's ('file-' and 24 characters)."""
    return "file-" + secrets.token_hex(12)


class LocalFileStorage:
    """Bytes of the tenant's files in DATA_DIR/files/<tenant>/<file id>; written whole or not at all."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, tenant: str, file_id: str) -> Path:
        # Both parts were validated (slug pattern, our own ids), the check stays as a second fence.
        if "/" in file_id or file_id.startswith(".") or "/" in tenant:
            raise NotFound(f"No such File object: {file_id}", param="file_id")
        return self._root / tenant / file_id

    def save(self, tenant: str, file_id: str, source: BinaryIO) -> int:
        """Copy a (spooled) upload in; a temporary name until it is complete. Returns the size."""
        target = self._path(tenant, file_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{file_id}.partial")
        source.seek(0)
        with open(partial, "wb") as out:
            shutil.copyfileobj(source, out, COPY_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
        return target.stat().st_size

    def read(self, tenant: str, file_id: str) -> bytes:
        """The file's bytes."""
        try:
            return self._path(tenant, file_id).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"No such File object: {file_id}", param="file_id") from None

    def delete(self, tenant: str, file_id: str) -> None:
        """Remove the bytes (missing is fine)."""
        self._path(tenant, file_id).unlink(missing_ok=True)

    def drop_tenant(self, tenant: str) -> None:
        """Remove every file of a deleted tenant."""
        shutil.rmtree(self._root / tenant, ignore_errors=True)
