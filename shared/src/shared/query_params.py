"""A list's filters: optional query parameters, each with its OpenAPI schema and its check (422 naming it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import request

from shared.db import ID_PATTERN
from shared.errors import Unprocessable

# As in a body (shared/json_input.py): PostgreSQL text cannot hold a NUL, so it never reaches a query.
NUL_MESSAGE = "must not contain NUL (\\u0000) characters"
_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class QueryParam:
    """One optional query parameter: what the OpenAPI document says it takes, and the check that holds it to that.

    `problem` returns why a value is refused, or None; absent and empty (`?state=`) both mean "not given".
    """

    name: str
    schema: dict[str, Any]
    problem: Callable[[str], str | None]

    def check(self, raw: str) -> str | None:
        """Why raw is refused, or None."""
        return NUL_MESSAGE if "\x00" in raw else self.problem(raw)


def text_param(name: str, max_length: int) -> QueryParam:
    """A free string of at most max_length characters, e.g. an IDE's project id."""
    too_long = f"at most {max_length} characters"
    schema = {"type": "string", "maxLength": max_length}
    return QueryParam(name, schema, lambda raw: too_long if len(raw) > max_length else None)


def id_param(name: str) -> QueryParam:
    """An id as the server makes them (1-64 letters, digits, - and _), e.g. a script's."""
    not_an_id = "not an id (1-64 letters, digits, - or _)"
    schema = {"type": "string", "pattern": f"^{ID_PATTERN}$"}
    return QueryParam(name, schema, lambda raw: None if _ID.fullmatch(raw) else not_an_id)


def choice_param(name: str, choices: Iterable[str]) -> QueryParam:
    """One of a fixed set of values, e.g. a run state."""
    allowed = list(choices)
    one_of = f"must be one of {', '.join(allowed)}"
    return QueryParam(name, {"type": "string", "enum": allowed}, lambda raw: None if raw in allowed else one_of)


def query_schema(*params: QueryParam) -> dict[str, dict[str, Any]]:
    """The parameters as @document's `query` takes them (add shared.openapi.PAGE_QUERY for a paginated list)."""
    return {param.name: param.schema for param in params}


def read_query(*params: QueryParam) -> list[str | None]:
    """The request's value of each parameter, in order (None when not given); one 422 naming every bad one."""
    values, details = [], []
    for param in params:
        raw = request.args.get(param.name) or None
        problem = param.check(raw) if raw is not None else None
        if problem:
            details.append({"field": param.name, "message": problem})
        values.append(raw)
    if details:
        raise Unprocessable(f"{details[0]['field']}: {details[0]['message']}", details=details)
    return values
