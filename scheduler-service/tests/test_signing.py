"""Signatures and bodies: what the platform signs verifies with the recipe docs/webhooks.md gives users."""

from __future__ import annotations

import json
import time

from webhook_recipe import documented_recipe

from scheduler_service.signing import new_secret, signature_headers
from scheduler_service.webhook_bodies import render

EVENT = {
    "id": "evt_0123456789abcdef0123456789abcdef",
    "type": "run.became_failing",
    "created_at": "2026-12-02T10:00:00Z",
    "data": {
        "kind": "project",
        "run_id": "r1",
        "state": "failed",
        "duration_ms": 12500,
        "target": {"id": "p1", "name": "checkout"},
        "failures": [{"test": "pay by card", "step": 4, "command": "click", "message": "element not found"}],
        "links": {"console": "https://testfleet.example/project-runs/r1"},
    },
}


def test_the_documented_recipe_verifies_both_signatures():
    recipe, secret = documented_recipe(), new_secret()
    body = render("json", EVENT).encode()
    headers = signature_headers([secret], EVENT["id"], int(time.time()), body)
    assert recipe["verify"](secret, headers, body)
    assert recipe["verify_github_style"](secret, headers, body)
    assert not recipe["verify"](secret, headers, body + b" ")
    assert not recipe["verify"](new_secret(), headers, body)
    assert not recipe["verify_github_style"](new_secret(), headers, body)


def test_an_old_timestamp_is_refused_by_the_recipe():
    recipe, secret = documented_recipe(), new_secret()
    body = b"{}"
    headers = signature_headers([secret], "evt_1", int(time.time()) - 3600, body)
    assert not recipe["verify"](secret, headers, body)


def test_after_a_rotation_both_secrets_verify():
    recipe, old, new = documented_recipe(), new_secret(), new_secret()
    body = b'{"a":1}'
    headers = signature_headers([new, old], "evt_2", int(time.time()), body)
    assert len(headers["webhook-signature"].split()) == 2
    assert recipe["verify"](new, headers, body) and recipe["verify"](old, headers, body)
    assert recipe["verify_github_style"](new, headers, body)


def test_the_json_format_is_the_event_itself():
    assert json.loads(render("json", EVENT)) == EVENT


def test_slack_says_what_failed_and_links_the_run():
    message = json.loads(render("slack", EVENT))
    assert message["text"] == "Project checkout started failing"
    text = json.dumps(message["blocks"])
    assert "pay by card, step 4 (click): element not found" in text
    assert "<https://testfleet.example/project-runs/r1|Open in TestFleet>" in text


def test_teams_is_an_adaptive_card_with_the_same_facts():
    message = json.loads(render("teams", EVENT))
    card = message["attachments"][0]["content"]
    assert message["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == "Project checkout started failing"
    assert any("pay by card" in block["text"] for block in card["body"])
    assert card["actions"][0]["url"] == "https://testfleet.example/project-runs/r1"


def test_a_missed_threshold_is_named():
    event = {
        "id": "evt_3",
        "type": "run.finished",
        "created_at": "2026-12-02T10:00:00Z",
        "data": {
            "kind": "perf",
            "state": "failed",
            "target": {"id": "s1", "name": "search load"},
            "thresholds": [{"name": "p95_ms", "actual": 812, "limit": 500, "state": "failed"}],
        },
    }
    message = json.loads(render("slack", event))
    assert message["text"] == "Load scenario search load FAILED"
    assert "Missed threshold: p95_ms 812 (limit 500)" in json.dumps(message)
