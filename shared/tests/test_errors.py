"""Every error is the contract's JSON shape, Flask's own included; no 500 from bad input."""

import os

import pytest
from flask import Flask, request
from pydantic import BaseModel, Field
from sqlalchemy import create_engine, text

from shared.config import normalize_database_url
from shared.errors import Conflict, register_error_handlers
from shared.testing import free_port, skip_or_fail


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


# --- database errors: only an outage is a 503 ---------------------------------------------------------------

IS_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))


@pytest.fixture()
def db_client(database_url, tmp_path):
    """An app over a real database (PostgreSQL with TEST_DATABASE_URL) whose routes make each kind of failure."""
    engine = create_engine(normalize_database_url(database_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE things (id INTEGER PRIMARY KEY, n INTEGER UNIQUE, name TEXT)"))
    unreachable = {
        "postgresql": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
        "sqlite": f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}",
    }[engine.dialect.name]
    app = Flask(__name__)
    register_error_handlers(app)

    def run(sql: str, url: str | None = None, **params):
        target = create_engine(url) if url else engine
        try:
            with target.begin() as conn:
                conn.execute(text(sql), params)
        finally:
            if url:
                target.dispose()
        return "", 204

    @app.post("/unique")
    def unique():
        run("INSERT INTO things (id, n) VALUES (1, 7)")
        return run("INSERT INTO things (id, n) VALUES (2, 7)")

    @app.post("/int-out-of-range")
    def int_out_of_range():
        return run("INSERT INTO things (id, n) VALUES (3, :n)", n=2**40)

    @app.post("/nul-in-text")
    def nul_in_text():
        return run("INSERT INTO things (id, name) VALUES (4, :name)", name="a\x00b")

    @app.get("/missing-table")
    def missing_table():
        return run("SELECT secret_column FROM no_such_table")

    @app.get("/unreachable")
    def down():
        return run("SELECT 1", unreachable)

    yield app.test_client()
    engine.dispose()


def test_unreachable_database_is_503(db_client):
    resp = db_client.get("/unreachable")
    assert resp.status_code == 503 and resp.json["error"]["code"] == "database_unavailable"


def test_a_database_bug_is_a_500_that_leaks_nothing(db_client):
    """SQLite's "no such table" is an OperationalError: it was a 503 "database unavailable"."""
    resp = db_client.get("/missing-table")
    assert resp.status_code == 500
    assert resp.json["error"] == {"code": "internal_error", "message": "internal error", "details": None}


def test_a_constraint_violation_is_409(db_client):
    resp = db_client.post("/unique")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "conflict"


@pytest.mark.parametrize("route", ["/int-out-of-range", "/nul-in-text"])
def test_a_value_postgresql_refuses_is_422_without_the_value(db_client, route):
    """PostgreSQL refuses a NUL character in text and an integer column's overflow; both were a 503."""
    if not IS_POSTGRES:
        skip_or_fail("SQLite stores both values; set TEST_DATABASE_URL to run this on PostgreSQL")
    resp = db_client.post(route)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "validation_error"
    assert "\x00" not in resp.get_data(as_text=True) and str(2**40) not in resp.get_data(as_text=True)


def test_a_locked_sqlite_database_is_503(tmp_path):
    """SQLITE_BUSY: another process holds the write lock; the same request succeeds once it lets go."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    holder, waiter = create_engine(url), create_engine(url, connect_args={"timeout": 0})
    app = Flask(__name__)
    register_error_handlers(app)

    @app.post("/write")
    def write():
        with waiter.begin() as conn:
            conn.execute(text("INSERT INTO things VALUES (2)"))
        return "", 204

    with holder.connect() as conn:
        conn.execute(text("CREATE TABLE things (id INTEGER)"))
        conn.commit()
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, held until the rollback below
        resp = app.test_client().post("/write")
        conn.rollback()
    assert resp.status_code == 503 and resp.json["error"]["code"] == "database_unavailable"
    assert app.test_client().post("/write").status_code == 204
    holder.dispose()
    waiter.dispose()
