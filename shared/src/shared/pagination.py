"""limit/offset pagination and the {"items", "total"} envelope."""

from __future__ import annotations

from flask import request
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.errors import Unprocessable
from shared.responses import dump


class Page(BaseModel):
    """The list envelope; each list's model adds its `items`."""

    total: int
    limit: int
    offset: int


DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Unprocessable(
            f"{name}: must be an integer", details=[{"field": name, "message": "not an integer"}]
        ) from None
    if not lo <= value <= hi:
        raise Unprocessable(
            f"{name}: must be between {lo} and {hi}", details=[{"field": name, "message": f"out of range {lo}..{hi}"}]
        )
    return value


def page_args() -> tuple[int, int]:
    """Read ?limit= and ?offset= from the request, validated."""
    return _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT), _int_arg("offset", 0, 0, 10**9)


def paginate(session: Session, stmt, item: type[BaseModel]) -> dict:
    """Run stmt with the request's limit/offset and wrap the rows, shaped by the item model, in the envelope."""
    limit, offset = page_args()
    total = session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    rows = session.execute(stmt.limit(limit).offset(offset)).scalars().all()
    return {"items": [dump(item, r) for r in rows], "total": total, "limit": limit, "offset": offset}
