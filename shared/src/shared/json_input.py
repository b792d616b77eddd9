"""The JSON the services read and write: no NaN or Infinity, no NUL characters, bounded numbers and nesting.

Python's json module reads and writes NaN, Infinity and -Infinity, which are not JSON: a value saved from
such a body would come back in a response no JSON parser reads, and PostgreSQL refuses it. It also reads
1e400 as infinity. PostgreSQL text cannot hold a NUL character, a BIGINT holds 64 bits, and pydantic stops
serialising a value nested a few hundred levels deep. Every body is held to these rules on the way in, so
nothing that cannot be stored or sent back reaches a model or the database.
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 64  # a .side project needs 7 levels, a scenario's request body a few more
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON (send null or a finite number)")


def loads(text: str | bytes) -> Any:
    """Parse JSON text; NaN, Infinity and -Infinity are a ValueError like any other syntax error."""
    return json.loads(text, parse_constant=_refuse_constant)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, minus NaN and Infinity: a body with them is invalid JSON (400), a response never has them."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _refuse_constant)
        return super().loads(s, **kwargs)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        # A non-finite number that got past the checks is a logged 500, not a body clients cannot parse.
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


def first_unstorable(value: Any) -> tuple[str, str] | None:
    """(dotted field path, problem) of the first value no service stores, or None when every value is fine.

    Flags a NUL character in a string or key, an integer outside 64 bits, a number that overflowed to
    infinity, and objects or arrays nested more than MAX_DEPTH deep. The path reads like pydantic's
    (`requests.0.json.a`).
    """
    return _check(value, [], 1)


def _check(value: Any, path: list[str], depth: int) -> tuple[str, str] | None:
    """first_unstorable of value, found at path and nesting level depth (the body itself is level 1)."""
    field = ".".join(path) or "body"
    if isinstance(value, str):
        return (field, "must not contain NUL (\\u0000) characters") if "\x00" in value else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if INT64_MIN <= value <= INT64_MAX else (field, "integer out of range (at most 64 bits)")
    if isinstance(value, float):
        return None if math.isfinite(value) else (field, "number out of range (must be finite)")
    if not isinstance(value, (dict, list)):
        return None
    if depth > MAX_DEPTH:
        return field, f"nested deeper than {MAX_DEPTH} levels"
    for key, item in value.items() if isinstance(value, dict) else enumerate(value):
        if isinstance(key, str) and "\x00" in key:
            return field, "keys must not contain NUL (\\u0000) characters"
        problem = _check(item, [*path, str(key)], depth + 1)
        if problem:
            return problem
    return None
