"""The JSON rules every service shares: no NaN or Infinity either way, unstorable values found by path."""

from __future__ import annotations

import json

import pytest
from flask import Flask, jsonify, request

from shared.errors import register_error_handlers
from shared.json_input import MAX_DEPTH, StrictJSONProvider, first_unstorable, loads


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_loads_refuses_nan_and_infinity(text):
    with pytest.raises(ValueError, match="is not JSON"):
        loads(text)


def test_loads_reads_ordinary_json():
    assert loads(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


@pytest.fixture()
def client():
    app = Flask(__name__)
    app.json = StrictJSONProvider(app)
    register_error_handlers(app)

    @app.get("/not-finite")
    def not_finite():
        return jsonify({"p95_ms": float("nan")})

    @app.post("/echo")
    def echo():
        return jsonify(request.get_json())

    return app.test_client()


def test_a_response_never_carries_nan(client):
    resp = client.get("/not-finite")
    assert resp.status_code == 500
    assert json.loads(resp.get_data(as_text=True), parse_constant=pytest.fail)["error"]["code"] == "internal_error"


def test_a_body_with_nan_is_a_400(client):
    resp = client.post("/echo", data='{"a": NaN}', content_type="application/json")
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_json"
    assert client.post("/echo", json={"a": 1.5}).json == {"a": 1.5}


def _nested(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("document", "found"),
    [
        ({"a": [{"b": "ok"}, {"b": "x\x00"}]}, ("a.1.b", "must not contain NUL (\\u0000) characters")),
        ({"a": {"k\x00": 1}}, ("a", "keys must not contain NUL (\\u0000) characters")),
        ({"n": 2**63}, ("n", "integer out of range (at most 64 bits)")),
        ({"n": float("inf")}, ("n", "number out of range (must be finite)")),
        ("\x00", ("body", "must not contain NUL (\\u0000) characters")),
        (_nested(MAX_DEPTH + 1), (".".join(["0"] * MAX_DEPTH), f"nested deeper than {MAX_DEPTH} levels")),
    ],
)
def test_first_unstorable_names_the_path(document, found):
    assert first_unstorable(document) == found


def test_storable_documents_pass():
    assert first_unstorable({"n": 2**63 - 1, "m": -(2**63), "f": 1e308, "b": True, "s": "é", "l": []}) is None
    assert first_unstorable(_nested(MAX_DEPTH)) is None
