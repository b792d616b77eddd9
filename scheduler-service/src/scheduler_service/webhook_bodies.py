"""A delivery's body in the webhook's format: the event itself (json), or a message Slack or Teams shows.

A chat message says what a person needs at a glance: the verdict, which project, script or scenario,
what failed (the test and step, or the threshold missed) and a link to the run's console page.
"""

from __future__ import annotations

import json
from typing import Any

VERDICT = {
    "passed": "passed",
    "failed": "FAILED",
    "error": "ERROR",
    "stopped": "stopped",
    "queued": "queued",
    "running": "started",
}
HEADLINE = {
    "run.became_failing": "started failing",
    "run.became_passing": "is passing again",
    "run.queued": "queued",
    "run.started": "started",
}
KIND_NOUN = {"web": "Script", "project": "Project", "perf": "Load scenario"}


def render(format_: str, event: dict[str, Any]) -> str:
    """The request body for a webhook of format_ ("json", "slack" or "teams")."""
    if format_ == "slack":
        return json.dumps(slack_message(event))
    if format_ == "teams":
        return json.dumps(teams_message(event))
    return json.dumps(event, separators=(",", ":"))


def title(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    if event.get("type") == "webhook.test":
        return f"TestFleet test event for webhook {data.get('webhook_name', '')}".strip()
    noun = KIND_NOUN.get(data.get("kind", ""), "Run")
    name = (data.get("target") or {}).get("name") or data.get("run_id", "")
    what = HEADLINE.get(event.get("type", "")) or VERDICT.get(data.get("state", ""), data.get("state", ""))
    return f"{noun} {name} {what}"


def details(event: dict[str, Any]) -> list[str]:
    """Lines under the title: the verdict, the failing tests and steps or missed thresholds, the error."""
    data = event.get("data") or {}
    lines = []
    if event.get("type") == "webhook.test":
        return [data.get("message", "")]
    if data.get("state"):
        lines.append(
            f"State: {data['state']}"
            + (f" after {data['duration_ms'] / 1000:.1f} s" if data.get("duration_ms") else "")
        )
    for failure in (data.get("failures") or [])[:5]:
        step = f", step {failure['step']} ({failure.get('command', '')})" if failure.get("step") else ""
        lines.append(f"Failed: {failure.get('test', '')}{step}: {failure.get('message', '')}")
    for row in (data.get("thresholds") or [])[:5]:
        if row.get("state") == "failed":
            lines.append(
                f"Missed threshold: {row.get('name', '')} {row.get('actual', '')} (limit {row.get('limit', '')})"
            )
    if data.get("error"):
        lines.append(f"Error: {(data['error'] or {}).get('message', '')}")
    return lines


def console_link(event: dict[str, Any]) -> str | None:
    return ((event.get("data") or {}).get("links") or {}).get("console")


def slack_message(event: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: text for notifications, blocks for the channel."""
    link = console_link(event)
    text = "\n".join(details(event))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(event)[:150]}},
    ]
    if text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    if link:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open in TestFleet>"}})
    return {"text": title(event), "blocks": blocks}


def teams_message(event: dict[str, Any]) -> dict[str, Any]:
    """A Teams (Workflows webhook) message with one Adaptive Card."""
    link = console_link(event)
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title(event), "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    body += [{"type": "TextBlock", "text": line, "wrap": True} for line in details(event)]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in TestFleet", "url": link}]
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }
