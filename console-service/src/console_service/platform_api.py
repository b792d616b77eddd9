"""The other services' public REST APIs, called by the pages as the logged-in user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from console_service.config import ConsoleSettings
from shared import paths
from shared.auth import User, encode_token

# A token the console makes for one call lives this long; it never leaves the console.
CALL_TOKEN_TTL_S = 120


class ApiCallFailed(Exception):
    """A service answered with an error (or not at all); message is the service's own, readable one."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass(frozen=True)
class PlatformApi:
    """Calls as one user; one HTTP session (and connection pool) per console process."""

    settings: ConsoleSettings
    http: requests.Session
    user: User

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params).json()

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.call("POST", path, json=body, **kwargs)
        return response.json() if response.content else None

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, json=body).json()

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, json=body).json()

    def delete(self, path: str) -> None:
        self.call("DELETE", path)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request to the service path belongs to; raise ApiCallFailed for anything but 2xx."""
        service, base = self._service(path)
        token = encode_token(self.settings.auth_secret, self.user.id, self.user.role.name, CALL_TOKEN_TTL_S)
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        try:
            response = self.http.request(
                method, base + path, headers=headers, timeout=self.settings.api_timeout_s, **kwargs
            )
        except requests.RequestException as exc:
            raise ApiCallFailed(503, "service_unavailable", f"the {service} service is not answering") from exc
        if response.status_code >= 400:
            raise _failure(service, response)
        return response

    def _service(self, path: str) -> tuple[str, str]:
        bases = {
            paths.WEB_TEST: ("web-test", self.settings.web_test_url),
            paths.PERF_TEST: ("perf-test", self.settings.perf_test_url),
            paths.SCHEDULER: ("scheduler", self.settings.scheduler_url),
            paths.SCHEDULES: ("scheduler", self.settings.scheduler_url),
        }
        for prefix, found in bases.items():
            if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "?"):
                return found
        raise ValueError(f"no service serves {path}")


def _failure(service: str, response: requests.Response) -> ApiCallFailed:
    try:
        error = response.json()["error"]
        return ApiCallFailed(response.status_code, str(error["code"]), str(error["message"]), error.get("details"))
    except (ValueError, KeyError, TypeError):
        message = f"the {service} service answered {response.status_code}"
        return ApiCallFailed(response.status_code, "bad_gateway", message)
