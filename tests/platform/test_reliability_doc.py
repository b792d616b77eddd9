"""docs/reliability.md's bounds are each asserted by a reliability test, and each test's bound is in it."""

from __future__ import annotations

import re

from tests.harness import ROOT
from tests.reliability.bounds import bounds

USE = re.compile(r"""bound\(\s*["']([a-z0-9_]+)["']\s*\)""")


def test_every_bound_is_used_and_every_used_bound_is_documented():
    used = set()
    for path in (ROOT / "tests" / "reliability").glob("test_*.py"):
        used |= set(USE.findall(path.read_text()))
    documented = set(bounds())
    assert documented - used == set(), "bounds in docs/reliability.md that no test asserts"
    assert used - documented == set(), "bounds the tests use that docs/reliability.md lacks"
