"""The console keeps the services' common contract where it applies: health without I/O, ready naming what is
missing, an OpenAPI document of its API only, bad tokens refused on every API route, migrations both ways."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from shared.migrations import downgrade, upgrade
from shared.testing import TEST_SECRET

PREFIX = "/api/v1/auth"


def test_health_needs_no_token(client):
    assert client.get(f"{PREFIX}/health").json == {"status": "ok", "service": "console"}


def test_ready_checks_the_database_and_redis_and_names_what_fails(client, app, redis_server):
    ready = client.get(f"{PREFIX}/ready")
    assert ready.status_code == 200 and set(ready.json["checks"]) == {"database", "redis"}
    redis_server.kill()
    try:
        down = client.get(f"{PREFIX}/ready")
        assert down.status_code == 503 and down.json["error"]["message"] == "not ready: redis"
    finally:
        redis_server.start()


def test_the_openapi_document_describes_the_api_and_no_page(client):
    paths = client.get(f"{PREFIX}/openapi.json").json["paths"]
    assert set(paths) == {f"{PREFIX}/{p}" for p in ("health", "ready", "openapi.json", "me", "users",
                                                     "users/{account_id}", "tokens", "tokens/{token_id}")}  # fmt: skip
    assert paths[f"{PREFIX}/tokens"]["post"]["security"] == [{"bearerAuth": []}]


@pytest.mark.parametrize("token", ["not-a-jwt", "expired", "wrong-secret"])
def test_every_api_route_refuses_a_bad_token(app, client, make_token, token):
    bearer = {"expired": make_token("admin", "admin", ttl=-10), "wrong-secret": make_token("admin", "admin",
              secret=TEST_SECRET[::-1])}.get(token, token)  # fmt: skip
    headers = {"Authorization": f"Bearer {bearer}"}
    for method, path in [("GET", "/me"), ("GET", "/users"), ("POST", "/users"), ("PATCH", "/users/x"),
                         ("GET", "/tokens"), ("POST", "/tokens"), ("DELETE", "/tokens/x")]:  # fmt: skip
        response = client.open(PREFIX + path, method=method, headers=headers, json={})
        assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized", (method, path)


def test_pages_send_a_logged_out_browser_to_the_login_form(client):
    for path in ("/", "/tokens", "/users"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=" + path)


def test_an_unknown_page_is_a_readable_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Something went wrong (404)" in response.get_data(as_text=True)


def test_migrations_upgrade_and_downgrade(database_url):
    upgrade("console_service", database_url)
    engine = create_engine(database_url)
    assert {"accounts", "login_sessions", "api_tokens"} <= set(inspect(engine).get_table_names())
    downgrade("console_service", database_url)
    assert not {"accounts", "login_sessions", "api_tokens"} & set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("path", ["/a%22b", "/a%00b", "/%FF%FE", "/..%2F..%2Fetc%2Fpasswd", "/assets/..%2Fconfig.py",
                                  "/assets/vendor/..%2F..%2Fpackage.json"])  # fmt: skip
def test_a_hostile_path_is_a_404_never_a_500_or_a_file(client, path):
    response = client.get(path)
    assert response.status_code == 404, response.get_data(as_text=True)[:300]


def test_pages_load_scripts_and_styles_only_from_the_console_and_those_come_from_npm(app, admin_client):
    """No CDN: every <script src> and stylesheet is under /assets/, and the libraries are npm's files as installed."""
    import json
    import re

    html = admin_client.get("/").get_data(as_text=True) + admin_client.get("/tokens").get_data(as_text=True)
    sources = re.findall(r'<script[^>]+src="([^"]+)"', html) + re.findall(r'<link[^>]+href="([^"]+)"', html)
    assert sources and all(s.startswith("/assets/") for s in sources), sources
    for source in set(sources):
        assert admin_client.get(source).status_code == 200, source
    modules = app.extensions["settings"].console_assets_dir / "node_modules"
    locked = json.loads((modules.parent / "package-lock.json").read_text())["packages"]["node_modules/htmx.org"]
    installed = json.loads((modules / "htmx.org" / "package.json").read_text())
    assert locked["integrity"].startswith("sha512-") and installed["version"] == locked["version"]
    served = admin_client.get("/assets/vendor/htmx.min.js")
    assert served.status_code == 200 and served.data == (modules / "htmx.org/dist/htmx.min.js").read_bytes()


def test_every_asset_a_template_names_is_served(client):
    import re
    from pathlib import Path

    import console_service

    templates = Path(console_service.__file__).parent / "templates"
    named = {m for t in templates.glob("*.html") for m in re.findall(r'"(/assets/[^"{]+)"', t.read_text())}
    assert len(named) >= 6, named
    for asset in sorted(named):
        assert client.get(asset).status_code == 200, asset
