"""Every error is the contract's JSON shape, Flask's own included; no 500 from bad input."""

import pytest
from flask import Flask, request
from pydantic import BaseModel, Field

from shared.errors import Conflict, register_error_handlers


class Thing(BaseModel):
    name: str = Field(min_length=1)
    size: int


@pytest.fixture()
def client():
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    register_error_handlers(app)

    @app.post("/things")
    def create():
        Thing.model_validate(request.get_json())
        raise Conflict("already there", details={"id": 1})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    return app.test_client()


def test_malformed_json_is_400(client):
    resp = client.post("/things", data="{nope", content_type="application/json")
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "invalid_json"


def test_validation_error_names_the_field(client):
    resp = client.post("/things", json={"name": "", "size": "big"})
    assert resp.status_code == 422
    fields = {d["field"] for d in resp.json["error"]["details"]}
    assert fields == {"name", "size"}
    assert resp.json["error"]["message"].startswith("name:")


def test_api_error_keeps_its_status_and_details(client):
    resp = client.post("/things", json={"name": "a", "size": 1})
    assert resp.status_code == 409
    assert resp.json == {"error": {"code": "conflict", "message": "already there", "details": {"id": 1}}}


def test_oversized_body_is_413(client):
    resp = client.post("/things", data="x" * 4096, content_type="application/json")
    assert resp.status_code == 413
    assert resp.json["error"]["code"] == "payload_too_large"


def test_not_found_and_method_not_allowed(client):
    assert client.get("/nothing").json["error"]["code"] == "not_found"
    assert client.get("/things").json["error"]["code"] == "method_not_allowed"


def test_unexpected_errors_hide_details(client):
    resp = client.get("/boom")
    assert resp.status_code == 500
    assert resp.json["error"] == {"code": "internal_error", "message": "internal error", "details": None}
