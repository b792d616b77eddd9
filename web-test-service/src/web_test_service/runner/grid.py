"""A Selenium Grid as seen by a run: its endpoint (which no page may reach) and ending a session on it."""

from __future__ import annotations

import base64
import logging
import urllib.request
from urllib.error import HTTPError
from urllib.parse import quote, urlsplit, urlunsplit

from shared.host_policy import Target, endpoints_of_urls

log = logging.getLogger(__name__)

# A stop must not wait on a Grid that does not answer: the session is left to the Grid's own timeout then.
DELETE_TIMEOUT_S = 10.0


def grid_endpoints(remote_url: str) -> list[Target]:
    """The Grid's host:port: a page that reached it could start sessions or drive this one."""
    return endpoints_of_urls([remote_url])


def delete_session(remote_url: str, session_id: str, timeout: float = DELETE_TIMEOUT_S) -> bool:
    """End the session on the Grid (WebDriver DELETE /session/{id}) on a connection of its own; True if it did.

    The driver's own connection may be blocked in a command (a page that never loads): this request is not
    queued behind it, and the Grid's answer to the blocked command then unblocks the run.
    """
    parts = urlsplit(remote_url)
    netloc = parts.netloc.rpartition("@")[2]
    path = f"{parts.path.rstrip('/')}/session/{quote(session_id, safe='')}"
    request = urllib.request.Request(urlunsplit((parts.scheme, netloc, path, "", "")), method="DELETE")  # noqa: S310
    if parts.username is not None:  # credentials in SELENIUM_REMOTE_URL, as Selenium's own client sends them
        credentials = f"{parts.username}:{parts.password or ''}".encode()
        request.add_header("Authorization", f"Basic {base64.b64encode(credentials).decode()}")
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 (the configured Grid)
            return True
    except HTTPError as error:
        if error.code == 404:  # already gone (ended by an earlier call, or by the Grid)
            return True
        log.warning("the Grid refused to end session %s: HTTP %s", session_id, error.code)
    except OSError as error:
        log.warning("cannot end session %s on the Grid: %s", session_id, error)
    return False
