"""A list's filters: absent or empty is no filter; a bad value is one 422 naming every bad parameter."""

import pytest
from flask import Flask

from shared.errors import Unprocessable
from shared.query_params import choice_param, id_param, query_schema, read_query, text_param

STATE = choice_param("state", ["queued", "passed"])
TARGET = id_param("script_id")
SIDE = text_param("side_id", 5)


def _read(query: str, *params):
    with Flask(__name__).test_request_context(query):
        return read_query(*params)


def test_values_in_order_and_absent_or_empty_is_none():
    assert _read("/?state=passed&script_id=a-b_9&side_id=abcde", STATE, TARGET, SIDE) == ["passed", "a-b_9", "abcde"]
    assert _read("/?state=&side_id=", STATE, TARGET, SIDE) == [None, None, None]


@pytest.mark.parametrize(
    ("query", "param", "message"),
    [
        ("/?state=running", STATE, "must be one of queued, passed"),
        ("/?state=queued%00", STATE, "must not contain NUL (\\u0000) characters"),
        ("/?script_id=a%27b", TARGET, "not an id (1-64 letters, digits, - or _)"),
        ("/?script_id=" + "x" * 65, TARGET, "not an id (1-64 letters, digits, - or _)"),
        ("/?side_id=abcdef", SIDE, "at most 5 characters"),
        ("/?side_id=a%00", SIDE, "must not contain NUL (\\u0000) characters"),
    ],
)
def test_a_bad_value_is_a_422_naming_the_parameter(query, param, message):
    with pytest.raises(Unprocessable) as exc:
        _read(query, param)
    assert exc.value.details == [{"field": param.name, "message": message}]
    assert exc.value.message == f"{param.name}: {message}"


def test_every_bad_parameter_is_named_the_message_says_the_first():
    with pytest.raises(Unprocessable) as exc:
        _read("/?side_id=abcdefgh&state=nope&script_id=ok", STATE, TARGET, SIDE)
    assert [detail["field"] for detail in exc.value.details] == ["state", "side_id"]
    assert exc.value.message.startswith("state: ")


def test_the_schema_says_what_the_check_takes():
    assert query_schema(STATE, TARGET, SIDE) == {
        "state": {"type": "string", "enum": ["queued", "passed"]},
        "script_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
        "side_id": {"type": "string", "maxLength": 5},
    }
