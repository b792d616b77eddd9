"""JSON responses built from the pydantic read models, so the OpenAPI document and the JSON cannot drift."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from pydantic import BaseModel


def dump(model: type[BaseModel], obj: Any) -> dict[str, Any]:
    """obj (a row, or a dict) as model describes it, ready for JSON."""
    return model.model_validate(obj).model_dump(mode="json")


def respond(model: type[BaseModel], obj: Any, status: int = 200) -> tuple[Response, int]:
    return jsonify(dump(model, obj)), status
