"""The contract's JSON error shape for every error, Flask's own included."""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

import redis
from flask import Flask, Request, jsonify
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


class APIError(Exception):
    """An error the API answers with on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class BadRequest(APIError):
    status, code = 400, "bad_request"


class Unauthorized(APIError):
    status, code = 401, "unauthorized"


class Forbidden(APIError):
    status, code = 403, "forbidden"


class NotFound(APIError):
    status, code = 404, "not_found"


class Conflict(APIError):
    status, code = 409, "conflict"


class Unprocessable(APIError):
    status, code = 422, "validation_error"


class TooManyRequests(APIError):
    """429; retry_after_s goes out as the Retry-After header."""

    status, code = 429, "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: int, details: Any = None):
        super().__init__(message, details=details)
        self.retry_after_s = retry_after_s


class ServiceUnavailable(APIError):
    status, code = 503, "service_unavailable"


def error_response(status: int, code: str, message: str, details: Any = None):
    """Build the contract's error body with the given status."""
    body = {"error": {"code": code, "message": message, "details": details}}
    response = jsonify(body)
    response.status_code = status
    return response


def _database_down():
    return error_response(503, "database_unavailable", "the database is not reachable; retry shortly")


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Flatten pydantic errors into [{field, message}] with dotted field paths."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err.get("loc", ())) or "body"
        out.append({"field": field, "message": err.get("msg", "invalid")})
    return out


class DatabaseFailure(Enum):
    """What a database error means for the client: retry later, fix the request, or nothing it can do."""

    OUTAGE = 503  # unreachable, restarting, out of resources, locked: the same request may succeed shortly
    INVALID_VALUE = 422  # the database refused a value of the request (out of range, NUL in text, ...)
    CONFLICT = 409  # a constraint: the request clashes with what is stored
    INTERNAL = 500  # our own mistake (a missing table, bad SQL): logged, no detail sent


# PostgreSQL SQLSTATE classes (the first two characters; psycopg exceptions carry `sqlstate`).
SQLSTATE_FAILURES = {
    "08": DatabaseFailure.OUTAGE,  # connection exception
    "40": DatabaseFailure.OUTAGE,  # transaction rollback: serialization failure, deadlock; a retry succeeds
    "53": DatabaseFailure.OUTAGE,  # insufficient resources: disk full, too many connections
    "55": DatabaseFailure.OUTAGE,  # object not in prerequisite state: lock not available
    "57": DatabaseFailure.OUTAGE,  # operator intervention: shutdown, cannot connect now, statement cancelled
    "58": DatabaseFailure.OUTAGE,  # system error: I/O
    "22": DatabaseFailure.INVALID_VALUE,  # data exception: out of range, invalid text representation
    "54": DatabaseFailure.INVALID_VALUE,  # program limit exceeded: a value too large or too complex
    "23": DatabaseFailure.CONFLICT,  # integrity constraint violation
}
# SQLite primary result codes (sqlite3 exceptions carry `sqlite_errorname`, e.g. SQLITE_IOERR_SHORT_READ).
SQLITE_FAILURES = {
    "SQLITE_BUSY": DatabaseFailure.OUTAGE,
    "SQLITE_LOCKED": DatabaseFailure.OUTAGE,
    "SQLITE_CANTOPEN": DatabaseFailure.OUTAGE,
    "SQLITE_IOERR": DatabaseFailure.OUTAGE,
    "SQLITE_FULL": DatabaseFailure.OUTAGE,
    "SQLITE_NOMEM": DatabaseFailure.OUTAGE,
    "SQLITE_READONLY": DatabaseFailure.OUTAGE,
    "SQLITE_PROTOCOL": DatabaseFailure.OUTAGE,
    "SQLITE_TOOBIG": DatabaseFailure.INVALID_VALUE,
    "SQLITE_MISMATCH": DatabaseFailure.INVALID_VALUE,
    "SQLITE_CONSTRAINT": DatabaseFailure.CONFLICT,
}


def database_failure(exc: DBAPIError) -> DatabaseFailure:
    """Classify a database error by the code the database gave, else by what the driver raised."""
    if exc.connection_invalidated:
        return DatabaseFailure.OUTAGE
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return SQLSTATE_FAILURES.get(sqlstate[:2], DatabaseFailure.INTERNAL)
    sqlite_name = getattr(exc.orig, "sqlite_errorname", None)
    if isinstance(sqlite_name, str):
        primary = "_".join(sqlite_name.split("_")[:2])  # SQLITE_IOERR_SHORT_READ -> SQLITE_IOERR
        return SQLITE_FAILURES.get(primary, DatabaseFailure.INTERNAL)
    # No code: the driver failed before the server answered (refused, timed out) or refused a value itself
    # (psycopg will not send a NUL character in text).
    if isinstance(exc, OperationalError):
        return DatabaseFailure.OUTAGE
    if isinstance(exc, DataError):
        return DatabaseFailure.INVALID_VALUE
    if isinstance(exc, IntegrityError):
        return DatabaseFailure.CONFLICT
    return DatabaseFailure.INTERNAL


class JSONErrorRequest(Request):
    """A request whose malformed JSON body is a 400 `invalid_json` naming the parse error."""

    def on_json_loading_failed(self, e: ValueError | None):
        if e is None:  # wrong content type: Flask answers 415
            return super().on_json_loading_failed(e)
        raise BadRequest(f"request body is not valid JSON: {e}", code="invalid_json")

    def get_json(self, *args, **kwargs):
        try:
            return super().get_json(*args, **kwargs)
        except RecursionError:  # json.loads recurses once per nesting level
            raise BadRequest("request body is nested too deeply", code="invalid_json") from None


def register_error_handlers(app: Flask) -> None:
    """Answer every error, expected or not, in the contract's JSON shape."""
    app.request_class = JSONErrorRequest

    @app.after_request
    def _no_content_has_no_type(response):
        if response.status_code == 204:  # a view's `return "", 204` would be labelled text/html
            response.headers.pop("Content-Type", None)
        return response

    @app.errorhandler(APIError)
    def _api_error(exc: APIError):
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        details = validation_details(exc)
        first = details[0] if details else {"field": "body", "message": "invalid"}
        return error_response(422, "validation_error", f"{first['field']}: {first['message']}", details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = exc.description or exc.name
        return error_response(status, HTTP_CODES.get(status, "http_error"), message)

    @app.errorhandler(PoolTimeoutError)
    def _database_pool_exhausted(exc: PoolTimeoutError):
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return _database_down()

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        failure = database_failure(exc)
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "sqlite_errorname", None)
        if failure is DatabaseFailure.OUTAGE:
            log.warning("database unavailable: %s (%s)", exc.__class__.__name__, sqlstate)
            return _database_down()
        if failure is DatabaseFailure.INVALID_VALUE:
            # The database's message may quote the value: it goes to the log only.
            log.warning("database refused a value: %s (%s): %s", exc.__class__.__name__, sqlstate, exc.orig)
            message = "a value of the request cannot be stored (out of range or not representable)"
            return error_response(422, "validation_error", message)
        if failure is DatabaseFailure.CONFLICT:
            log.warning("database constraint: %s (%s): %s", exc.__class__.__name__, sqlstate, exc.orig)
            return error_response(409, "conflict", "the request conflicts with what is stored; reload and retry")
        log.exception("database error")
        return error_response(500, "internal_error", "internal error")

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    def _broker_down(exc: Exception):
        log.warning("redis unavailable: %s", exc.__class__.__name__)
        return error_response(503, "broker_unavailable", "the broker is not reachable; retry shortly")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # noqa: ARG001 (Flask passes it; log.exception reports it)
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error")
