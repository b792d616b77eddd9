"""The verification snippet of docs/webhooks.md, run as a user would paste it."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_recipe() -> dict:
    """The snippet's functions (verify, verify_github_style) by name."""
    snippet = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert snippet, "docs/webhooks.md lost its verification snippet"
    namespace: dict = {}
    exec(snippet.group(1), namespace)  # noqa: S102 - our own documentation
    return namespace
