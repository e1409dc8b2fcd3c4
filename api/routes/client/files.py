"""/v1/files: upload, list, retrieve, content and delete, through a provider, per tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from api.deps import ClientDep, PlatformDep
from api.openapi import UPSTREAM_ERRORS
from api.params import Filter, Ref

router = APIRouter(prefix="/files", tags=["client: files"])


@router.post("", summary="Upload a file (multipart)", responses=UPSTREAM_ERRORS)
async def upload_file(client: ClientDep, platform: PlatformDep, file: Annotated[UploadFile, File()],
                      purpose: Annotated[str, Form(max_length=64)],
                      provider: Annotated[str | None, Form(
                          max_length=200, description="provider name; default: the first provider with a files API")
                      ] = None) -> dict:
    """Stored at the provider; the tenant is recorded so no other tenant can see it."""
    # Starlette has spooled the upload to a temporary file: it streams from there, never read whole.
    return await platform.files.upload(client, file.filename or "upload", file.file, purpose, provider)


@router.get("", summary="List files")
async def list_files(client: ClientDep, platform: PlatformDep, purpose: Filter = None) -> dict:
    """This tenant's files."""
    return await platform.files.list(client, purpose)


@router.get("/{file_id}", summary="Retrieve a file")
async def get_file(file_id: Ref, client: ClientDep, platform: PlatformDep) -> dict:
    """One of this tenant's files."""
    return await platform.files.get(client, file_id)


@router.get("/{file_id}/content", summary="Download a file's content", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}, **UPSTREAM_ERRORS})
async def file_content(file_id: Ref, client: ClientDep, platform: PlatformDep) -> Response:
    """The bytes, from the provider."""
    return Response(await platform.files.content(client, file_id), media_type="application/octet-stream")


@router.delete("/{file_id}", summary="Delete a file", responses=UPSTREAM_ERRORS)
async def delete_file(file_id: Ref, client: ClientDep, platform: PlatformDep) -> dict:
    """Deleted at the provider and forgotten."""
    return await platform.files.delete(client, file_id)
