"""docs/api.md documents exactly the endpoints the services serve.

Each service is built with its app factory (SQLite in a temporary directory, the session's own Redis) and
asked for its OpenAPI document. docs/api.md names every endpoint in a heading `### METHOD /path` with
OpenAPI-style `{param}` path parameters; both sides are compared with parameter names replaced by `{}`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.testing import migrated_app, service_settings
from tests.platform.services import CONSOLE, SERVICES

pytestmark = pytest.mark.timeout(120)

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ENDPOINT_HEADING = re.compile(r"^### (?P<method>[A-Z]+) (?P<path>/\S*)$")
# Any heading that starts like an endpoint, so a typo in one is reported instead of silently skipped.
LOOKS_LIKE_ENDPOINT = re.compile(r"^#+\s+(?:" + "|".join(METHODS) + r")\b")
PARAM = re.compile(r"\{[^}]*\}|<(?:[a-z]+:)?\w+>")  # OpenAPI {name} or Flask <name> / <int:name>

Operation = tuple[str, str]


def normalize(path: str) -> str:
    """The path with every parameter written `{}`, so only the shape is compared."""
    return PARAM.sub("{}", path.rstrip("/") or "/")


@pytest.fixture(scope="module")
def served(redis_server, tmp_path_factory) -> dict[Operation, str]:
    """(METHOD, normalized path) -> "service: METHOD /path" for every operation of every OpenAPI document."""
    operations: dict[Operation, str] = {}
    for service in [*SERVICES, CONSOLE]:
        var_dir = tmp_path_factory.mktemp(service.package)
        database_url = f"sqlite:///{var_dir / 'api.db'}"
        settings = service_settings(service.settings_cls(), redis_server.url, database_url, var_dir)
        with migrated_app(service.package, settings) as app:
            response = app.test_client().get(f"{service.prefix}/openapi.json")
        assert response.status_code == 200, f"{service.name}: openapi.json answered {response.status_code}"
        paths = response.json["paths"]
        assert paths, f"{service.name}: the OpenAPI document lists no paths"
        for path, item in paths.items():
            for method in item:
                if method.upper() in METHODS:
                    operations[(method.upper(), normalize(path))] = f"{service.name}: {method.upper()} {path}"
    return operations


def documented_headings() -> list[tuple[int, str]]:
    """(line number, line) of every heading in docs/api.md that looks like an endpoint (not in code blocks)."""
    headings, in_code = [], False
    for number, line in enumerate(API_DOC.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        elif not in_code and LOOKS_LIKE_ENDPOINT.match(line):
            headings.append((number, line.rstrip()))
    return headings


@pytest.fixture(scope="module")
def documented() -> dict[Operation, str]:
    """(METHOD, normalized path) -> "api.md:<line>: <heading>" for every endpoint heading of docs/api.md."""
    operations: dict[Operation, str] = {}
    for number, line in documented_headings():
        match = ENDPOINT_HEADING.match(line)
        if match and match["method"] in METHODS:
            operations.setdefault((match["method"], normalize(match["path"])), f"api.md:{number}: {line}")
    return operations


def test_every_endpoint_heading_is_well_formed():
    bad = [
        f"api.md:{number}: {line!r}"
        for number, line in documented_headings()
        if not (ENDPOINT_HEADING.match(line) and ENDPOINT_HEADING.match(line)["method"] in METHODS)
    ]
    hint = "endpoint headings must read `### METHOD /api/v1/...` with {param} path parameters:\n"
    assert not bad, hint + "\n".join(bad)


def test_no_endpoint_is_documented_twice():
    seen: dict[Operation, int] = {}
    twice = []
    for number, line in documented_headings():
        match = ENDPOINT_HEADING.match(line)
        if not match:
            continue
        key = (match["method"], normalize(match["path"]))
        if key in seen:
            twice.append(f"api.md:{number}: {line} (already at line {seen[key]})")
        seen.setdefault(key, number)
    assert not twice, "documented twice:\n" + "\n".join(twice)


def test_every_served_endpoint_is_documented(served, documented):
    missing = sorted(label for key, label in served.items() if key not in documented)
    hint = "served but not documented in docs/api.md (add a `### METHOD /path` section):\n"
    assert not missing, hint + "\n".join(missing)


def test_every_documented_endpoint_is_served(served, documented):
    unknown = sorted(label for key, label in documented.items() if key not in served)
    assert not unknown, "documented in api.md but no service's OpenAPI document has it:\n" + "\n".join(unknown)
