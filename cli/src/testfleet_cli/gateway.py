"""The gateway's REST API as the CLI uses it: bearer token, JSON errors, and retries across a gateway restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError

from testfleet_cli import __version__
from testfleet_cli.config import Config

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0  # a stop waits a few seconds for its run to settle before it answers
# While waiting, a dropped connection or a 502/503/504 (the gateway or a service restarting) is retried this long
# unless --timeout says otherwise: the run goes on without us and is picked up again.
DEFAULT_OUTAGE_S = 600.0
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 5.0)
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
# A POST that was sent may have been done: only these answers say it was not (the gateway's upstream refused it,
# or the service could not queue it), so only they are retried for a start that has no Idempotency-Key.
NOT_DONE_STATUSES = frozenset({429, 502, 503})


class ApiError(Exception):
    """The gateway or a service answered with an error: status, the error's code and its message."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def __str__(self) -> str:
        """The message, the other problems of a 422 (each `field: message`), the status and code."""
        others = [f"{item.get('field')}: {item.get('message')}" for item in self.details or []
                  if isinstance(item, dict) and item.get("field")]  # fmt: skip
        others = [problem for problem in others if problem != self.message]
        more = "".join(f"; {problem}" for problem in others)
        return f"{self.message}{more} [HTTP {self.status} {self.code}]"


class AuthError(ApiError):
    """The token was refused (401): missing, malformed, expired or signed with another secret."""


class Unreachable(Exception):
    """No answer from the gateway (refused, reset, timed out, or 502/503/504) within the allowed time."""


def error_of(response: requests.Response) -> ApiError:
    """The ApiError of a 4xx/5xx answer; a body that is not TestFleet's error JSON says so."""
    try:
        error = response.json()["error"]
        code, message, details = str(error["code"]), str(error["message"]), error.get("details")
    except (ValueError, KeyError, TypeError):
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        code, message, details = "not_testfleet", f"not a TestFleet gateway answer ({kind})", None
    cls = AuthError if response.status_code == 401 else ApiError
    return cls(response.status_code, code, message, details)


@dataclass(frozen=True)
class Transient:
    """Why a try failed in a way another try may not: a problem for the user's log, and the wait it asked for."""

    problem: str
    wait: float | None = None


class Gateway:
    """Requests to one gateway as one user. `on_retry` hears about each retry (for the user's log)."""

    def __init__(self, config: Config, on_retry: Callable[[str], None] | None = None) -> None:
        self.url = config.url
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {config.token}", "User-Agent": f"testfleet-cli/{__version__}"}
        )
        self.on_retry = on_retry
        self.outage_s = DEFAULT_OUTAGE_S
        self.identity: dict[str, Any] = {}  # {"user", "role"}, once session.connect has proven the token

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        done_if_sent: bool = False,
        stream: bool = False,
    ) -> requests.Response:
        """One call, retried while the gateway is unavailable (up to outage_s); ApiError on a 4xx/5xx answer.

        done_if_sent: a POST that may have taken effect once sent (a start without an Idempotency-Key) is retried
        only when it was not sent or the answer says it was not done (NOT_DONE_STATUSES).
        """
        deadline = time.monotonic() + self.outage_s
        attempt = 0
        while True:
            outcome = self.send(method, f"{self.url}{path}", json, headers, done_if_sent, stream)
            if isinstance(outcome, requests.Response):
                return outcome
            wait = outcome.wait if outcome.wait is not None else BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            if time.monotonic() + wait >= deadline:
                raise Unreachable(outcome.problem)
            if self.on_retry is not None:
                self.on_retry(f"{outcome.problem}; retrying in {wait:g} s")
            time.sleep(wait)
            attempt += 1

    def send(self, method, url, json, headers, done_if_sent, stream) -> requests.Response | Transient:
        """One try: the answer, or why it is worth another try; ApiError or Unreachable when it is not."""
        try:
            response = self.session.request(method, url, json=json, headers=headers, stream=stream,
                                            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))  # fmt: skip
        except requests.ConnectionError as error:
            problem = f"cannot reach {self.url}: {reason(error)}"
            if done_if_sent and not never_sent(error):
                raise Unreachable(f"{problem} (the request may have been done)") from error
            return Transient(problem)
        except requests.Timeout as error:
            problem = f"no answer from {self.url} within {READ_TIMEOUT_S:.0f} s"
            if done_if_sent:
                raise Unreachable(f"{problem} (the request may have been done)") from error
            return Transient(problem)
        if response.status_code < 400:
            return response
        if response.status_code not in (NOT_DONE_STATUSES if done_if_sent else TRANSIENT_STATUSES):
            raise error_of(response)
        return Transient(str(error_of(response)), retry_after(response))

    def get(self, path: str) -> Any:
        return self.request("GET", path).json()

    def post(
        self, path: str, body: Any = None, *, headers: dict[str, str] | None = None, done_if_sent: bool = False
    ) -> Any:
        response = self.request("POST", path, json=body, headers=headers, done_if_sent=done_if_sent)
        return response.json() if response.content else None

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body).json()

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body).json()

    def download(self, path: str, destination: Path) -> int:
        """Save the body of GET path to destination (its folders made); the number of bytes written."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with self.request("GET", path, stream=True) as response, destination.open("wb") as out:
            for chunk in response.iter_content(64 * 1024):
                out.write(chunk)
                written += len(chunk)
        return written


def never_sent(error: requests.ConnectionError) -> bool:
    """Whether the connection was never made (refused, unresolvable, timed out connecting): nothing was sent.
    urllib3 says so by the type of the reason requests wraps (NewConnectionError and NameResolutionError are
    ConnectTimeoutErrors)."""
    cause = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectTimeout) or isinstance(cause, ConnectTimeoutError)


def reason(error: requests.ConnectionError) -> str:
    """One short line for a connection problem (urllib3's messages nest the whole pool state)."""
    text = str(error)
    for marker in ("Connection refused", "Name or service not known", "Connection reset", "Remote end closed",
                   "timed out", "No route to host"):  # fmt: skip
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200]


def retry_after(response: requests.Response) -> float | None:
    """Seconds a 429/503 asks us to wait (Retry-After in seconds), capped at 10 s; None if it does not say."""
    value = response.headers.get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), 10.0)
    except ValueError:
        return None
