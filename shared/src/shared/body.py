"""The request body: a JSON object, or a clear 400 naming what is wrong."""

from __future__ import annotations

from flask import request

from shared.errors import BadRequest


def json_object(optional: bool = False) -> dict:
    """The request's JSON object body; {} when optional and no body was sent."""
    if optional and not request.content_length:
        return {}
    body = request.get_json(silent=False)
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    return body
