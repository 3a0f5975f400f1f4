"""Keyset pagination shared by every list RPC: an opaque token carrying the last row's key."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from crm_common.errors import FieldViolation, InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class Page:
    size: int
    # The sort key of the last row of the previous page, or None for the first page.
    after: dict[str, Any] | None


def parse_page(page_size: int, page_token: str, field_prefix: str = "page") -> Page:
    if page_size < 0 or page_size > MAX_PAGE_SIZE:
        raise InvalidArgument(FieldViolation(f"{field_prefix}.page_size", f"must be between 0 and {MAX_PAGE_SIZE}"))
    after = None
    if page_token:
        try:
            after = json.loads(base64.urlsafe_b64decode(page_token.encode()).decode())
            if not isinstance(after, dict):
                raise ValueError
        except ValueError:
            raise InvalidArgument(FieldViolation(f"{field_prefix}.page_token", "not a token from a previous page")) from None
    return Page(size=page_size or DEFAULT_PAGE_SIZE, after=after)


def next_token(key: dict[str, Any] | None) -> str:
    if key is None:
        return ""
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()
