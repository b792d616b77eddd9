"""Declarative load-test scenarios and run parameters, validated with pydantic."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_REQUESTS_PER_SCENARIO = 100

# "1h30m", "5m", "30s", "1h2m3s": each unit at most once, in this order.
_RUN_TIME_PATTERN = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
# The same durations (or whole seconds) as the OpenAPI document's JSON Schema pattern: case and surrounding
# spaces as parse_run_time allows them, at least one digit.
RUN_TIME_SCHEMA_PATTERN = r"^\s*(?=\S*\d)(\d+|(\d+[hH])?(\d+[mM])?(\d+[sS])?)\s*$"


# Unknown keys are almost always typos ("expected_status"): refused, not ignored. Values keep JSON's types
# ("5" is not a number, 1 is not true) and no number is infinite: every field is what it says.
STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True, allow_inf_nan=False)
# Generous caps that still keep every number meaningful (a p95 of 1e308 ms or a spawn rate of "inf" is a typo).
MAX_MS = 3_600_000
MAX_RATE = 1_000_000


class _Strict(BaseModel):
    model_config = STRICT


class RequestSpec(_Strict):
    """One weighted HTTP request a simulated user makes."""

    name: str = Field(default="", max_length=200)
    method: str = "GET"
    path: str = Field(min_length=1, max_length=2000)
    headers: dict[str, str] = Field(default_factory=dict, max_length=100)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    weight: int = Field(default=1, ge=1, le=1000)
    expect_status: list[int] | None = None

    model_config = ConfigDict(**STRICT, populate_by_name=True)

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        method = value.upper()
        if method not in HTTP_METHODS:
            raise ValueError(f"method must be one of {', '.join(HTTP_METHODS)}, got {value!r}")
        return method

    @field_validator("path")
    @classmethod
    def _relative_path(cls, value: str) -> str:
        # A full URL here would bypass the host policy checked on the scenario's host.
        if not value.startswith("/") or value.startswith("//"):
            raise ValueError("path must start with a single '/' (the host comes from the scenario)")
        if any(char in value for char in "\r\n "):
            raise ValueError("path must not contain spaces or line breaks (URL-encode them)")
        return value

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for key, header_value in value.items():
            if not key or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", key):
                raise ValueError(f"header name {key!r} is not a valid HTTP header name")
            if "\r" in header_value or "\n" in header_value:
                raise ValueError(f"header {key!r} must not contain line breaks")
        return value

    @field_validator("expect_status", mode="before")
    @classmethod
    def _status_list(cls, value: Any) -> Any:
        # Accept a single code for convenience; store a list either way.
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        return value

    @field_validator("expect_status")
    @classmethod
    def _status_range(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("expect_status must list at least one status code")
        for code in value:
            if not 100 <= code <= 599:
                raise ValueError(f"expect_status code {code} is not an HTTP status (100-599)")
        return sorted(set(value))

    @model_validator(mode="after")
    def _one_body_and_a_name(self) -> RequestSpec:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either json or body, not both")
        if not self.name:
            self.name = f"{self.method} {self.path}"
        return self


class WaitTime(_Strict):
    """Pause between a user's requests, uniformly drawn from [min, max] milliseconds."""

    min: int = Field(default=0, ge=0, le=MAX_MS)
    max: int = Field(default=0, ge=0, le=MAX_MS)

    @model_validator(mode="after")
    def _ordered(self) -> WaitTime:
        if self.max < self.min:
            raise ValueError(f"wait_time_ms.max ({self.max}) must be >= wait_time_ms.min ({self.min})")
        return self


class Thresholds(_Strict):
    """Pass/fail limits checked against a run's final stats; unset limits are not checked."""

    max_failure_ratio: float | None = Field(default=None, ge=0, le=1)
    p95_ms: float | None = Field(default=None, gt=0, le=MAX_MS)
    min_rps: float | None = Field(default=None, ge=0, le=MAX_RATE)


class Scenario(_Strict):
    """A declarative load test: where to send which requests, how often, and what counts as passing."""

    name: str = Field(min_length=1, max_length=300)
    host: str = Field(min_length=1, max_length=2000)
    requests: list[RequestSpec] = Field(min_length=1, max_length=MAX_REQUESTS_PER_SCENARIO)
    wait_time_ms: WaitTime = Field(default_factory=WaitTime)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @field_validator("host")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise ValueError("host must be an http:// or https:// URL, e.g. http://127.0.0.1:8000")
        try:
            hostname, _port = parts.hostname, parts.port
        except ValueError as exc:
            raise ValueError(f"host has an invalid port: {exc}") from None
        if not hostname:
            raise ValueError("host must name a server, e.g. http://127.0.0.1:8000")
        if parts.username or parts.password:
            raise ValueError("host must not carry credentials; send them as request headers")
        if parts.query or parts.fragment:
            raise ValueError("host must not have a query string or fragment")
        # Locust appends each request path to the host, so a trailing slash would double it.
        return value.rstrip("/")


def parse_run_time(value: Any) -> int:
    """Turn "30s", "5m", "1h30m", "90" or 90 into whole seconds (> 0)."""
    if isinstance(value, bool):
        raise ValueError("run_time must be a duration like '30s', '5m', '1h30m' or a number of seconds")
    if isinstance(value, (int, float)):
        seconds = value
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("run_time in seconds must be a whole number")
    elif isinstance(value, str):
        text = value.strip().lower()
        if text.isdigit():
            seconds = int(text)
        else:
            match = _RUN_TIME_PATTERN.fullmatch(text)
            if not text or match is None:
                raise ValueError(f"run_time {value!r} is not a duration like '30s', '5m', '1h30m' or seconds")
            seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0)
    else:
        raise ValueError("run_time must be a duration like '30s', '5m', '1h30m' or a number of seconds")
    if seconds <= 0:
        raise ValueError("run_time must be greater than 0 seconds")
    return int(seconds)


class RunParams(_Strict):
    """How big and how long a run is; validate with `parse_run_params` to apply the service's caps."""

    user_count: int = Field(ge=1)
    spawn_rate: float = Field(default=0, ge=0, le=MAX_RATE)
    run_time: int
    workers: int = Field(default=0, ge=0)

    @field_validator("run_time", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> int:
        return parse_run_time(value)

    @field_validator("user_count")
    @classmethod
    def _user_cap(cls, value: int, info: ValidationInfo) -> int:
        max_users = (info.context or {}).get("max_users")
        if max_users is not None and value > max_users:
            raise ValueError(f"user_count {value} exceeds the maximum of {max_users} (PERF_MAX_USERS)")
        return value

    @field_validator("run_time")
    @classmethod
    def _run_time_cap(cls, value: int, info: ValidationInfo) -> int:
        max_seconds = (info.context or {}).get("max_run_seconds")
        if max_seconds is not None and value > max_seconds:
            raise ValueError(f"run_time {value}s exceeds the maximum of {max_seconds}s (PERF_MAX_RUN_TIME)")
        return value

    @field_validator("workers")
    @classmethod
    def _worker_cap(cls, value: int, info: ValidationInfo) -> int:
        max_workers = (info.context or {}).get("max_workers")
        if max_workers is not None and value > max_workers:
            raise ValueError(f"workers {value} exceeds the maximum of {max_workers}")
        return value

    @model_validator(mode="after")
    def _default_spawn_rate(self) -> RunParams:
        # No spawn rate means "start everyone at once", which is what a short smoke run wants.
        if not self.spawn_rate:
            self.spawn_rate = float(self.user_count)
        return self


def parse_run_params(
    data: dict[str, Any],
    *,
    max_users: int | None = None,
    max_run_seconds: int | None = None,
    max_workers: int | None = None,
) -> RunParams:
    """Validate run parameters against the service's caps; raises pydantic.ValidationError naming the field."""
    context = {"max_users": max_users, "max_run_seconds": max_run_seconds, "max_workers": max_workers}
    return RunParams.model_validate(data, context=context)
