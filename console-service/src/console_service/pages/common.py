"""What every page uses: the API client as the logged-in user, and rendering with the layout's context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, render_template
from pydantic import ValidationError

from console_service.platform_api import ApiCallFailed, PlatformApi
from shared.auth import current_user
from shared.errors import validation_details


def api() -> PlatformApi:
    """The other services' APIs, as the user of this request."""
    return PlatformApi(current_app.extensions["settings"], current_app.extensions["http"], current_user())


def page(template: str, **context: Any) -> str:
    """Render template with the user (for the navigation) and the context."""
    return render_template(template, user=g.get("user"), **context)


@dataclass(frozen=True)
class Answer:
    """What one API call gave a page: its body, or the readable reason it failed."""

    body: Any = None
    error: str | None = None


def try_api(call: Callable[[], Any]) -> Answer:
    """Call the API; a failure becomes a message on the page instead of failing the whole page."""
    try:
        return Answer(body=call())
    except ApiCallFailed as exc:
        return Answer(error=exc.message)


def form_errors(exc: ValidationError) -> dict[str, str]:
    """A form field's name -> what is wrong with it, for the messages beside the fields."""
    return {detail["field"].split(".")[0]: detail["message"] for detail in validation_details(exc)}


def relay(path: str, *, download_name: str | None = None) -> Response:
    """An API file (a screenshot, a JUnit report, Locust's report or CSV) passed on to the browser as the user
    may read it; with download_name, as a download."""
    answer = api().call("GET", path, stream=True)
    headers = {"Cache-Control": "private, max-age=60"}
    if download_name:
        headers["Content-Disposition"] = f'attachment; filename="{download_name}"'
    content_type = answer.headers.get("Content-Type", "application/octet-stream")
    return Response(answer.iter_content(64 * 1024), 200, headers, content_type=content_type)
