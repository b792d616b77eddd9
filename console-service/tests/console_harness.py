"""What the console's tests share: the test admin's password, and logging a client in through the form."""

from __future__ import annotations

import re

from shared.testing import TEST_ADMIN_PASSWORD as ADMIN_PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client, path: str = "/login") -> str:
    """The CSRF token a page's forms carry (the session cookie it belongs to stays in the client)."""
    page = client.get(path)
    found = CSRF_FIELD.search(page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)[:500]
    return found.group(1)


def log_in(client, user: str = "admin", password: str = ADMIN_PASSWORD):
    """Log the test client in through the form, as a browser does."""
    return client.post("/login", data={"username": user, "password": password, "csrf_token": csrf_of(client)})
