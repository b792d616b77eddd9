"""Accounts: the first admin, argon2id hashes, login and logout, failed logins slowed, CSRF, admin-only users."""

from __future__ import annotations

import pytest
from console_harness import ADMIN_PASSWORD, csrf_of, log_in
from pydantic import ValidationError

from console_service.config import ConsoleSettings
from console_service.models import Account
from shared.testing import TEST_SECRET, wait_until


def test_the_first_admin_is_created_once_with_an_argon2id_hash(app):
    with app.app_context():
        session = app.extensions["db"].session()
        admin = session.get(Account, "admin")
        assert admin.role == "admin" and admin.password_hash.startswith("$argon2id$")
        assert ADMIN_PASSWORD not in admin.password_hash
    from console_service import create_app

    create_app(app.extensions["settings"])  # a second process starting: no second admin, no error
    with app.app_context():
        assert app.extensions["db"].session().query(Account).count() == 1


@pytest.mark.parametrize("password", [None, "testfleet-admin", "short"])
def test_outside_development_a_missing_or_default_admin_password_refuses_to_start(password, monkeypatch):
    monkeypatch.delenv("TESTFLEET_ADMIN_PASSWORD", raising=False)
    values = {"environment": "production", "auth_secret": TEST_SECRET}
    if password:
        values["TESTFLEET_ADMIN_PASSWORD"] = password
    with pytest.raises(ValidationError, match="TESTFLEET_ADMIN_PASSWORD"):
        ConsoleSettings(**values)


def test_login_sets_a_httponly_lax_cookie_and_logout_ends_it(app):
    client = app.test_client()
    assert client.get("/").status_code == 302  # logged out: to the login form
    response = log_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/api/v1/auth/me").json == {"user": "admin", "role": "admin"}
    stolen = client.get_cookie("testfleet_session").value
    client.post("/logout", data={"csrf_token": csrf_of(client, "/tokens")})
    assert client.get("/api/v1/auth/me").status_code == 401
    # The cookie from before the logout logs nobody in: the login is gone from the database too.
    other = app.test_client()
    other.set_cookie("testfleet_session", stolen)
    assert other.get("/api/v1/auth/me").status_code == 401


def test_behind_https_the_cookie_is_secure(app):
    client = app.test_client()
    token = csrf_of(client)
    response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token},
                           headers={"X-Forwarded-Proto": "https", "Referer": "https://localhost/login"})  # fmt: skip
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_and_failures_slow_down(app, caplog):
    client = app.test_client()
    statuses = [log_in(client, password="wrong-password").status_code for _ in range(4)]
    # Three free failures, then each attempt must wait: the right password is refused too, with Retry-After.
    assert statuses == [401, 401, 401, 429]
    refused = log_in(client)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "too many failed logins" in refused.get_data(as_text=True)
    assert "failed login for 'admin'" in caplog.text
    # Once the wait is over, the right password works again (and clears the name's count).
    wait_until(lambda: log_in(client).status_code == 302, 5, 0.25, what="the login allowed after the wait")


def test_a_post_without_the_csrf_token_is_refused(admin_client):
    for path, data in [("/tokens", {"name": "ci"}), ("/logout", {}), ("/users", {"id": "x", "password": "12345678"})]:
        response = admin_client.post(path, data=data)
        assert response.status_code == 400, path
        assert "CSRF" in response.get_data(as_text=True)
    refused = admin_client.post("/api/v1/auth/tokens", json={"name": "ci"})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "csrf_failed"
    token = csrf_of(admin_client, "/tokens")
    made = admin_client.post("/api/v1/auth/tokens", json={"name": "ci"}, headers={"X-CSRFToken": token})
    assert made.status_code == 201


def test_only_admins_manage_users(app, admin_client):
    token = csrf_of(admin_client, "/users")
    made = admin_client.post("/api/v1/auth/users", json={"id": "vera", "password": "vera-password", "role": "viewer"},
                             headers={"X-CSRFToken": token})  # fmt: skip
    assert made.status_code == 201 and made.json["role"] == "viewer"
    assert admin_client.post("/api/v1/auth/users", json={"id": "vera", "password": "another-pw"},
                             headers={"X-CSRFToken": token}).status_code == 409  # fmt: skip
    vera = app.test_client()
    assert log_in(vera, "vera", "vera-password").status_code == 302
    assert vera.get("/api/v1/auth/users").status_code == 403
    assert vera.get("/users").status_code == 403
    # Disabled: the login ends at once and the password no longer works.
    changed = admin_client.patch("/api/v1/auth/users/vera", json={"disabled": True}, headers={"X-CSRFToken": token})
    assert changed.status_code == 200 and changed.json["disabled"] is True
    assert vera.get("/api/v1/auth/me").status_code == 401
    assert log_in(app.test_client(), "vera", "vera-password").status_code == 401


def test_the_last_admin_cannot_be_demoted(admin_client):
    token = csrf_of(admin_client, "/users")
    refused = admin_client.patch("/api/v1/auth/users/admin", json={"role": "viewer"}, headers={"X-CSRFToken": token})
    assert refused.status_code == 409


def test_bad_input_is_a_422_naming_the_field(admin_client):
    token = csrf_of(admin_client, "/users")
    for body, field in [({"id": "../x", "password": "12345678"}, "id"), ({"id": "ok", "password": "short"}, "password"),
                        ({"id": "ok", "password": "12345678", "role": "root"}, "role")]:  # fmt: skip
        response = admin_client.post("/api/v1/auth/users", json=body, headers={"X-CSRFToken": token})
        assert response.status_code == 422 and response.json["error"]["details"][0]["field"] == field


def test_login_never_redirects_off_site(app):
    client = app.test_client()
    page = client.get("/login?next=https://evil.example/")
    token = csrf_of(client)
    response = client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token,
                                           "next": "//evil.example/"})  # fmt: skip
    assert page.status_code == 200 and response.headers["Location"] == "/"
