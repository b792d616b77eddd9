"""Locustfile generation from a scenario, and the subprocess check of custom locustfiles."""

from __future__ import annotations

import ast
import sys

import pytest

from perf_test_service.runner.locustfile import check_locustfile, generate_locustfile
from perf_test_service.scenario import Scenario


def build(requests: list[dict], **overrides) -> Scenario:
    data = {"name": "shop", "host": "http://127.0.0.1:8000", "requests": requests, **overrides}
    return Scenario.model_validate(data)


def tasks_of(source: str) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(source)
    user = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "ScenarioUser")
    return {node.name: node for node in user.body if isinstance(node, ast.FunctionDef)}


def test_weights_become_task_weights_and_requests_catch_responses():
    source = generate_locustfile(
        build(
            [
                {"name": "home", "path": "/", "weight": 7},
                {
                    "name": "create item",
                    "method": "POST",
                    "path": "/items",
                    "json": {"q": [1, 2.5, None]},
                    "headers": {"X-Trace": "1"},
                    "expect_status": [201, 202],
                },
                {"name": "upload", "method": "PUT", "path": "/raw", "body": "a=b"},
            ],
            wait_time_ms={"min": 250, "max": 1500},
        )
    )

    compile(source, "locustfile.py", "exec")
    assert "class ScenarioUser(FastHttpUser):" in source
    assert "wait_time = between(0.25, 1.5)" in source
    tasks = tasks_of(source)
    assert list(tasks) == ["request_0_home", "request_1_create_item", "request_2_upload"]
    weights = [ast.unparse(task.decorator_list[0]) for task in tasks.values()]
    assert weights == ["task(7)", "task(1)", "task(1)"]
    assert source.count("allow_redirects=False") == 3
    assert source.count("catch_response=True") == 3
    assert "_check(response, {201, 202})" in source
    assert "json.loads('{\"q\": [1, 2.5, null]}')" in source
    assert "data='a=b'" in source and 'headers=json.loads(\'{"X-Trace": "1"}\')' in source


def test_user_text_cannot_inject_code():
    hostile = "x'); import os; os.system('id'); ('"
    source = generate_locustfile(
        build(
            [{"name": hostile + '"""', "path": '/q?a=\'"""', "headers": {"X-Evil": hostile}, "body": hostile}],
            name='"""\nimport os\n',
        )
    )

    tree = ast.parse(source)
    imports = [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert imports == ["import json", "from locust import FastHttpUser, between, task"]
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and ast.unparse(node.func) == "os.system"]
    assert calls == []


@pytest.mark.timeout(60)
def test_generated_locustfile_passes_the_check():
    source = generate_locustfile(build([{"path": "/"}, {"method": "DELETE", "path": "/x", "expect_status": 204}]))

    assert check_locustfile(source) is None


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import definitely_missing_module\n", "No module named 'definitely_missing_module'"),
        ("def broken(:\n", "SyntaxError"),
        ("raise RuntimeError('bad import')\n", "RuntimeError: bad import"),
        ("import sys\nsys.exit(3)\n", "SystemExit"),
        ("x = 1\n", "defines no User class"),
        (
            "from locust import LoadTestShape\n\n"
            "class Shape(LoadTestShape):\n    def tick(self):\n        return None\n",
            "defines no User class",
        ),
    ],
)
def test_bad_locustfiles_are_reported(source, expected):
    error = check_locustfile(source)

    assert error is not None and expected in error
    assert "/tmp/" not in error  # the author's file is called locustfile.py, not a temp path


@pytest.mark.timeout(60)
def test_user_and_shape_classes_are_accepted():
    source = (
        "from locust import HttpUser, LoadTestShape, task\n\n"
        "class Visitor(HttpUser):\n    @task\n    def home(self):\n        self.client.get('/')\n\n"
        "class Ramp(LoadTestShape):\n    def tick(self):\n        return None\n"
    )

    assert check_locustfile(source) is None


@pytest.mark.timeout(30)
def test_a_hanging_import_times_out():
    error = check_locustfile("while True:\n    pass\n", timeout_s=3)

    assert error is not None and "longer than 3 s" in error


def test_generation_does_not_import_locust():
    generate_locustfile(build([{"path": "/"}]))

    assert "locust" not in sys.modules
