"""docs/architecture.md names real places: every file, folder and function it cites exists where it says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "architecture.md"
# A package path in the doc (web_test_service/...) lives under its service's src/ folder.
PACKAGES = {
    "web_test_service": "web-test-service/src",
    "perf_test_service": "perf-test-service/src",
    "scheduler_service": "scheduler-service/src",
    "console_service": "console-service/src",
}
ROOTS = (
    "shared/",
    "web-test-service/",
    "perf-test-service/",
    "scheduler-service/",
    "console-service/",
    "gateway/",
    "deploy/",
    "tests/",
    "docs/",
    *(f"{p}/" for p in PACKAGES),
)


def cited_places(text: str) -> list[str]:
    """Backticked paths that start at a known root, with {a,b} alternatives expanded."""
    places = []
    for token in re.findall(r"`([^`\s]+)`", text):
        if not token.startswith(ROOTS) or "<" in token:
            continue
        match = re.search(r"\{([^}]+)\}", token)
        alternatives = match.group(1).split(",") if match else [""]
        places += [token.replace(match.group(0), alt) if match else token for alt in alternatives]
    return places


def resolve(place: str) -> tuple[Path, str | None]:
    path, _, name = place.partition(":")
    package = path.split("/", 1)[0]
    base = REPO / PACKAGES[package] if package in PACKAGES else REPO
    return base / path, name or None


def defined_names(source: Path) -> set[str]:
    tree = ast.parse(source.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)}


def test_every_cited_place_exists():
    places = cited_places(DOC.read_text())
    assert len(places) >= 30, places  # the doc does cite the code
    missing = []
    for place in places:
        path, name = resolve(place)
        if not path.exists():
            missing.append(place)
        elif name and name not in defined_names(path):
            missing.append(f"{place} (no def {name})")
    assert not missing, f"docs/architecture.md cites what does not exist: {missing}"


def test_the_check_sees_a_wrong_path():
    assert cited_places("see `shared/src/shared/nope.py` and `web_test_service/x.py:y`") == [
        "shared/src/shared/nope.py",
        "web_test_service/x.py:y",
    ]
    assert not resolve("shared/src/shared/nope.py")[0].exists()
