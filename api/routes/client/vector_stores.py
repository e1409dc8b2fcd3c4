"""/v1/vector_stores: OpenAI's Vector Stores API (stores, files, batches, search) plus raw records.

The licence feature `vector` is checked by the middleware for every /v1/vector path.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.deps import ClientDep, PlatformDep
from api.params import Ref
from api.routes.client.common import parse_body
from gateway_app.services.vector.objects import POLL_AFTER_MS

router = APIRouter(prefix="/vector_stores", tags=["client: vector stores"])
PageLimit = Annotated[int, Query(ge=1, le=100)]
Order = Annotated[Literal["asc", "desc"], Query()]
Cursor = Annotated[str | None, Query(max_length=256)]


def _polled(body: dict) -> JSONResponse:
    # The SDK's pollers (upload_and_poll, create_and_poll) wait as long as this header says.
    headers = {"openai-poll-after-ms": POLL_AFTER_MS} if body.get("status") == "in_progress" else None
    return JSONResponse(body, headers=headers)


@router.post("", summary="Create a vector store")
async def create_store(request: Request, client: ClientDep, platform: PlatformDep) -> dict:
    """name, metadata, expires_after, file_ids, chunking_strategy; Gatehouse's embedding_model."""
    return await platform.vector_stores.create(client, parse_body(await request.body()))


@router.get("", summary="List vector stores")
async def list_stores(client: ClientDep, platform: PlatformDep, limit: PageLimit = 20, order: Order = "desc",
                      after: Cursor = None, before: Cursor = None) -> dict:
    """This tenant's stores, newest first by default."""
    return await platform.vector_stores.list(client, limit, order, after, before)


@router.get("/{store_id}", summary="Retrieve a vector store")
async def get_store(store_id: Ref, client: ClientDep, platform: PlatformDep) -> JSONResponse:
    """One store, with its file counts."""
    return _polled(await platform.vector_stores.get(client, store_id))


@router.post("/{store_id}", summary="Modify a vector store")
async def update_store(store_id: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> dict:
    """name, metadata, expires_after."""
    return await platform.vector_stores.update(client, store_id, parse_body(await request.body()))


@router.delete("/{store_id}", summary="Delete a vector store")
async def delete_store(store_id: Ref, client: ClientDep, platform: PlatformDep) -> dict:
    """The store, its file list and its vectors (the uploaded files stay)."""
    return await platform.vector_stores.delete(client, store_id)


@router.post("/{store_id}/search", summary="Search a vector store")
async def search(store_id: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> dict:
    """query, max_num_results, filters, ranking_options."""
    return await platform.vector_search.search(client, store_id, parse_body(await request.body()))


# Files ------------------------------------------------------------------------------------------

@router.post("/{store_id}/files", summary="Add a file to a vector store")
async def add_file(store_id: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> JSONResponse:
    """file_id, attributes, chunking_strategy; ingestion runs in the background."""
    return _polled(await platform.vector_stores.add_file(client, store_id, parse_body(await request.body())))


@router.get("/{store_id}/files", summary="List a vector store's files")
async def list_files(store_id: Ref, client: ClientDep, platform: PlatformDep, limit: PageLimit = 20,
                     order: Order = "desc", after: Cursor = None, before: Cursor = None,
                     filter: Annotated[str | None, Query(max_length=20)] = None) -> dict:  # noqa: A002 - OpenAI's name
    """Filter by status with `filter`."""
    return await platform.vector_stores.list_files(client, store_id, status=filter, limit=limit, order=order,
                                                   after=after, before=before)


@router.get("/{store_id}/files/{file_id}", summary="Retrieve a vector store file")
async def get_file(store_id: Ref, file_id: Ref, client: ClientDep, platform: PlatformDep) -> JSONResponse:
    """Status, last_error, attributes."""
    return _polled(await platform.vector_stores.get_file(client, store_id, file_id))


@router.post("/{store_id}/files/{file_id}", summary="Update a vector store file's attributes")
async def update_file(store_id: Ref, file_id: Ref, request: Request, client: ClientDep,
                      platform: PlatformDep) -> dict:
    """attributes (filters see them at once)."""
    return await platform.vector_stores.update_file(client, store_id, file_id, parse_body(await request.body()))


@router.delete("/{store_id}/files/{file_id}", summary="Remove a file from a vector store")
async def delete_file(store_id: Ref, file_id: Ref, client: ClientDep, platform: PlatformDep) -> dict:
    """Its chunks leave the store; the uploaded file stays."""
    return await platform.vector_stores.delete_file(client, store_id, file_id)


@router.get("/{store_id}/files/{file_id}/content", summary="A vector store file's parsed text")
async def file_content(store_id: Ref, file_id: Ref, client: ClientDep, platform: PlatformDep) -> dict:
    """The text the ingestion extracted, page by page."""
    return await platform.vector_stores.file_content(client, store_id, file_id)


# Batches ----------------------------------------------------------------------------------------

@router.post("/{store_id}/file_batches", summary="Add several files at once")
async def create_batch(store_id: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> JSONResponse:
    """file_ids (shared attributes, chunking_strategy) or files (each its own)."""
    return _polled(await platform.vector_stores.create_batch(client, store_id, parse_body(await request.body())))


@router.get("/{store_id}/file_batches/{batch_id}", summary="Retrieve a file batch")
async def get_batch(store_id: Ref, batch_id: Ref, client: ClientDep, platform: PlatformDep) -> JSONResponse:
    """Status and file counts."""
    return _polled(await platform.vector_stores.get_batch(client, store_id, batch_id))


@router.post("/{store_id}/file_batches/{batch_id}/cancel", summary="Cancel a file batch")
async def cancel_batch(store_id: Ref, batch_id: Ref, client: ClientDep, platform: PlatformDep) -> dict:
    """Files not yet ingested are cancelled."""
    return await platform.vector_stores.cancel_batch(client, store_id, batch_id)


@router.get("/{store_id}/file_batches/{batch_id}/files", summary="List a file batch's files")
async def batch_files(store_id: Ref, batch_id: Ref, client: ClientDep, platform: PlatformDep,
                      limit: PageLimit = 20, order: Order = "desc", after: Cursor = None, before: Cursor = None,
                      filter: Annotated[str | None, Query(max_length=20)] = None) -> dict:  # noqa: A002
    """The batch's files, filterable by status."""
    return await platform.vector_stores.list_files(client, store_id, status=filter, batch_id=batch_id, limit=limit,
                                                   order=order, after=after, before=before)


# Raw records (for apps that chunk or embed themselves) ------------------------------------------

@router.post("/{store_id}/records", summary="Upsert records (text, optional embedding, attributes)")
async def upsert_records(store_id: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> dict:
    """Records without an embedding are embedded with the store's model."""
    return await platform.vector_search.upsert(client, store_id, parse_body(await request.body()))


@router.post("/{store_id}/query", summary="Nearest records to a text or an embedding")
async def query_records(store_id: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> dict:
    """text or embedding, top_k, filters."""
    return await platform.vector_search.query(client, store_id, parse_body(await request.body()))


@router.delete("/{store_id}/records", summary="Delete records by id")
async def delete_records(store_id: Ref, request: Request, client: ClientDep, platform: PlatformDep) -> dict:
    """ids."""
    return await platform.vector_search.delete(client, store_id, parse_body(await request.body()))
