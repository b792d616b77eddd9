"""The bounds the reliability tests assert, read from the table in docs/reliability.md.

One place for each number: the document users read is the one the tests hold the platform to, so a bound
cannot be loosened in a test without the document saying so.
"""

from __future__ import annotations

import re
from functools import cache

from tests.harness import ROOT

DOC = ROOT / "docs" / "reliability.md"
SECTION = "## Bounds the tests assert"
# | `name` | value | what it bounds |
ROW = re.compile(r"^\|\s*`(?P<name>[a-z0-9_]+)`\s*\|\s*(?P<value>[0-9.]+)\s*\|")


@cache
def bounds() -> dict[str, float]:
    """Every bound of the table, by name."""
    text = DOC.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end >= 0 else len(text)]
    found = {m["name"]: float(m["value"]) for line in section.splitlines() if (m := ROW.match(line))}
    if not found:
        raise AssertionError(f"no bounds found under {SECTION!r} in {DOC}")
    return found


def bound(name: str) -> float:
    """The bound called name; a name the document lacks is a failure, not a default."""
    table = bounds()
    if name not in table:
        raise AssertionError(f"{DOC} has no bound `{name}` under {SECTION!r} (it has: {', '.join(sorted(table))})")
    return table[name]
