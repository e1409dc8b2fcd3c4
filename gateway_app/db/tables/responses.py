"""Tables of a tenant database for the Responses API: answers kept for GET and previous_response_id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field

from gateway_app.db.tables.base import TenantTable, UtcDateTime, now_utc


class StoredResponse(TenantTable, table=True):
    """responses: the response object, its input items and the conversation as chat messages."""

    __tablename__ = "responses"

    id: str = Field(primary_key=True, max_length=60)
    model: str = Field(max_length=200)
    body: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    input_items: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    messages: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=now_utc, sa_type=UtcDateTime, index=True)
