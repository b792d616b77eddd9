"""The request body: a JSON object every service can store, or a clear 400 or 422 naming what is wrong."""

from __future__ import annotations

from flask import request

from shared.errors import BadRequest, Unprocessable
from shared.json_input import first_unstorable


def json_object(optional: bool = False) -> dict:
    """The request's JSON object body; {} when optional and no body was sent.

    Malformed JSON (NaN and Infinity included) is a 400. A NUL character, a number out of range or nesting too
    deep anywhere in it is a 422 naming the field, before a model or the database sees it (shared/json_input.py).
    """
    if optional and not request.content_length:
        return {}
    body = request.get_json(silent=False)
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    problem = first_unstorable(body)
    if problem:
        field, message = problem
        raise Unprocessable(f"{field}: {message}", details=[{"field": field, "message": message}])
    return body
