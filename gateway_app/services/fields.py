"""Shared pydantic field types for service inputs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL.fullmatch(value) or len(value) > 320:
        raise ValueError("must be a valid e-mail address")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]
"""A datetime; naive values are taken as UTC."""

Email = Annotated[str, AfterValidator(_email)]
"""An e-mail address, lower-cased."""

Password = Annotated[str, Field(min_length=8, max_length=256)]
"""A password of 8 to 256 characters."""

Name = Annotated[str, Field(min_length=1, max_length=200)]
"""A display name."""
