"""API tokens through the console's API: shown once, listed without the token, revoked onto the revocation list,
scoped to their owner, bounded in life, made only for console accounts."""

from __future__ import annotations

import jwt
from console_harness import csrf_of, log_in

from shared.names import REVOKED_TOKENS_KEY
from shared.redis_client import redis_from_url
from shared.testing import TEST_SECRET, wait_until


def _make_user(admin_client, name: str, role: str = "tester") -> None:
    made = admin_client.post("/api/v1/auth/users", json={"id": name, "password": f"{name}-password", "role": role},
                             headers={"X-CSRFToken": csrf_of(admin_client, "/users")})  # fmt: skip
    assert made.status_code == 201, made.json


def test_a_token_is_shown_once_carries_an_id_and_works_as_a_bearer(app, admin_client):
    made = admin_client.post("/api/v1/auth/tokens", json={"name": "ci", "expires_in_days": 7},
                             headers={"X-CSRFToken": csrf_of(admin_client, "/tokens")})  # fmt: skip
    assert made.status_code == 201
    token = made.json["token"]
    claims = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])
    assert claims["jti"] == made.json["id"] and claims["sub"] == "admin" and claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == 7 * 86400
    listed = admin_client.get("/api/v1/auth/tokens").json
    assert listed["total"] == 1 and "token" not in listed["items"][0]
    bearer = app.test_client()
    assert bearer.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json["user"] == "admin"


def test_revoking_writes_the_id_to_the_revocation_list_and_the_token_is_refused(app, admin_client, settings):
    csrf = {"X-CSRFToken": csrf_of(admin_client, "/tokens")}
    made = admin_client.post("/api/v1/auth/tokens", json={"name": "ci"}, headers=csrf).json
    revoked = admin_client.delete(f"/api/v1/auth/tokens/{made['id']}", headers=csrf)
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert redis_from_url(settings.redis_url).zscore(REVOKED_TOKENS_KEY, made["id"]) is not None
    assert admin_client.delete(f"/api/v1/auth/tokens/{made['id']}", headers=csrf).status_code == 200  # twice: fine
    bearer = {"Authorization": f"Bearer {made['token']}"}
    # The list is read at most 1 s old: refused within 5 s (the contract), the message saying why.
    wait_until(lambda: app.test_client().get("/api/v1/auth/me", headers=bearer).status_code == 401, 5, 0.1,
               what="the revoked token refused")  # fmt: skip
    assert app.test_client().get("/api/v1/auth/me", headers=bearer).json["error"]["message"] == "token revoked"


def test_a_tester_sees_and_revokes_only_its_own_tokens(app, admin_client):
    _make_user(admin_client, "tess")
    admins = admin_client.post("/api/v1/auth/tokens", json={"name": "admin-ci"},
                               headers={"X-CSRFToken": csrf_of(admin_client, "/tokens")}).json  # fmt: skip
    tess = app.test_client()
    assert log_in(tess, "tess", "tess-password").status_code == 302
    csrf = {"X-CSRFToken": csrf_of(tess, "/tokens")}
    own = tess.post("/api/v1/auth/tokens", json={"name": "tess-ci"}, headers=csrf).json
    assert own["role"] == "tester"
    assert [t["name"] for t in tess.get("/api/v1/auth/tokens").json["items"]] == ["tess-ci"]
    assert tess.delete(f"/api/v1/auth/tokens/{admins['id']}", headers=csrf).status_code == 404
    assert {t["name"] for t in admin_client.get("/api/v1/auth/tokens").json["items"]} == {"admin-ci", "tess-ci"}


def test_re_roling_or_disabling_an_account_revokes_its_tokens(app, admin_client, settings):
    _make_user(admin_client, "rita")
    rita = app.test_client()
    log_in(rita, "rita", "rita-password")
    token = rita.post(
        "/api/v1/auth/tokens", json={"name": "ci"}, headers={"X-CSRFToken": csrf_of(rita, "/tokens")}
    ).json
    changed = admin_client.patch("/api/v1/auth/users/rita", json={"role": "viewer"},
                                 headers={"X-CSRFToken": csrf_of(admin_client, "/users")})  # fmt: skip
    assert changed.status_code == 200
    assert redis_from_url(settings.redis_url).zscore(REVOKED_TOKENS_KEY, token["id"]) is not None
    assert admin_client.get("/api/v1/auth/tokens").json["items"][0]["revoked_at"]


def test_a_token_lives_at_most_the_configured_days(admin_client, settings):
    csrf = {"X-CSRFToken": csrf_of(admin_client, "/tokens")}
    too_long = admin_client.post("/api/v1/auth/tokens", json={"name": "ci", "expires_in_days": 366}, headers=csrf)
    assert too_long.status_code == 422 and too_long.json["error"]["details"][0]["field"] == "expires_in_days"
    default = admin_client.post("/api/v1/auth/tokens", json={"name": "ci"}, headers=csrf).json
    claims = jwt.decode(default["token"], TEST_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == settings.api_token_max_days * 86400


def test_only_console_accounts_make_tokens(client, auth_header):
    refused = client.post("/api/v1/auth/tokens", json={"name": "ci"}, headers=auth_header("tester", "no-account"))
    assert refused.status_code == 403 and "console accounts" in refused.json["error"]["message"]
