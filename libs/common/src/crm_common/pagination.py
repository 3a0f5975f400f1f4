"""Keyset pagination shared by every list RPC: an opaque token carrying the last row's key."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Row, Select, and_, or_

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


def newest_first(
    conn: Connection, query: Select[Any], created_at: Column[Any], row_id: Column[Any], page: Page
) -> tuple[list[Row[Any]], dict[str, Any] | None]:
    """Runs `query` newest first, from where the page token left off.

    Returns the page's rows and the key the next page starts after (None on the last page).
    The key is (created_at, id): ties on the time are broken by the id, so no row is skipped
    or shown twice when rows are added between pages.
    """
    after = _position(page)
    if after is not None:
        time, last_id = after
        query = query.where(or_(created_at < time, and_(created_at == time, row_id < last_id)))
    rows = conn.execute(query.order_by(created_at.desc(), row_id.desc()).limit(page.size + 1)).all()
    shown = list(rows[: page.size])
    if len(rows) <= page.size:
        return shown, None
    last = shown[-1]._mapping
    return shown, {"t": last[created_at.name].isoformat(), "id": last[row_id.name]}


def _position(page: Page) -> tuple[datetime, str] | None:
    if page.after is None:
        return None
    try:
        time = datetime.fromisoformat(page.after["t"])
        last_id = page.after["id"]
        if time.tzinfo is None or not isinstance(last_id, str):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise InvalidArgument(FieldViolation("page.page_token", "not a token from a previous page")) from None
    return time, last_id
