"""Rules for the runner package as a whole: its public names, module size and docstrings, no Flask or Celery."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import web_test_service.runner as runner

MODULES = sorted(Path(runner.__file__).parent.rglob("*.py"))
MAX_MODULE_LINES = 450


def test_public_names():
    from web_test_service.junit import build_junit_xml
    from web_test_service.runner import RunResult, StepResult, run_script
    from web_test_service.runner.driver import (
        DEFAULT_CHROMEDRIVER,
        PROFILE_PREFIX,
        BrowserStartError,
        browser_process_ids,
        make_driver,
        sweep_orphaned_browsers,
    )
    from web_test_service.runner.validation import validate_commands

    assert all(
        (RunResult, StepResult, run_script, BrowserStartError, make_driver, sweep_orphaned_browsers, PROFILE_PREFIX)
    )
    assert all((browser_process_ids, DEFAULT_CHROMEDRIVER, validate_commands, build_junit_xml))
    assert set(runner.__all__) <= set(dir(runner))


def test_init_only_re_exports():
    tree = ast.parse(Path(runner.__file__).read_text())
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "ImportFrom", "Assign"}


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_each_module_is_small_with_a_one_line_docstring_and_no_web_framework(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree)
    assert docstring and "\n" not in docstring
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    roots = {name.split(".")[0] for name in imported}
    assert not roots & {"flask", "celery", "sqlalchemy"}
    assert not {name for name in imported if name.startswith("web_test_service.")} - {
        name for name in imported if name.startswith("web_test_service.runner")
    }
