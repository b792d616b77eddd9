"""`testfleet web` against the real platform: every exit code from a real run, JUnit, ndjson, artifacts, GitHub."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import signal
import stat
import subprocess
import xml.etree.ElementTree as ET

import pytest
from cli_harness import TESTFLEET, Relay, side, wait_for_state

from shared.testing import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
WEB = "/api/v1/web-test"
PASSING = [("open", "/index.html", ""), ("assertTitle", "acceptance", "")]
FAILING = [("open", "/index.html", ""), ("assertTitle", "another title", "")]
SLOW = [("open", "/index.html", ""), ("pause", "60000", "")]


def project_run_id_of(cli, project_side_id: str) -> str:
    """The latest project run of the project imported from the .side with this IDE id."""

    def started() -> str | None:
        projects = cli.api("GET", f"{WEB}/projects?side_id={project_side_id}").json()["items"]
        runs = cli.api("GET", f"{WEB}/projects/{projects[0]['id']}/runs").json()["items"] if projects else []
        return runs[0]["project_run_id"] if runs else None

    return wait_until(started, 60, 0.2, what=f"the CLI to start a run of {project_side_id}")


def test_a_passing_project_exits_0_with_its_junit(cli, site, tmp_path):
    project = side(tmp_path / "ok.side", "cli-ok", PASSING, tests=2)
    done = cli.run("web", "run", "--side", str(project), "--base-url", site, "--junit", str(tmp_path / "ok.xml"))
    assert done.returncode == 0, done.stdout + done.stderr
    suites = ET.parse(tmp_path / "ok.xml").getroot()
    assert suites.tag == "testsuites" and suites.get("tests") == "2" and suites.get("failures") == "0"
    assert [case.get("name") for case in suites.iter("testcase")] == ["t0", "t1"]
    assert "exit 0 (passed)" in done.stdout


def test_importing_the_same_project_again_updates_it(cli, tmp_path):
    project = side(tmp_path / "same.side", "cli-same", PASSING)
    first = cli.run("web", "import", str(project))
    second = cli.run("web", "import", str(project))
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.strip() == second.stdout.strip() and len(first.stdout.strip()) == 32


def test_a_failed_assertion_exits_1_and_says_where_on_github(cli, site, tmp_path):
    summary = tmp_path / "summary.md"
    project = side(tmp_path / "fail.side", "cli-fail", FAILING)
    done = cli.run("web", "run", "--side", str(project), "--base-url", site, "--junit", str(tmp_path / "f.xml"),
                   GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    [case] = ET.parse(tmp_path / "f.xml").getroot().iter("testcase")
    assert case.find("failure") is not None
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1 and "title=s / t0 (failed)" in annotations[0] and "another title" in annotations[0]
    assert "### TestFleet: failed (exit 1)" in summary.read_text()


def test_a_missing_element_is_an_error_exit_3(cli, site, tmp_path):
    project = side(tmp_path / "err.side", "cli-err", [("open", "/index.html", ""), ("click", "id=missing", "")])
    done = cli.run("web", "run", "--side", str(project), "--base-url", site)
    assert done.returncode == 3, done.stdout + done.stderr


def test_scripts_run_side_by_side_and_the_worst_verdict_wins(cli, site, tmp_path):
    imported = json.loads(cli.run("web", "import", str(side(tmp_path / "two.side", "cli-two", PASSING)), "-o", "json",
                                  ).stdout)  # fmt: skip
    passing = imported["scripts"][0]["id"]
    failing_project = json.loads(cli.run("web", "import", str(side(tmp_path / "f.side", "cli-two-f", FAILING)),
                                         "-o", "json").stdout)  # fmt: skip
    failing = failing_project["scripts"][0]["id"]
    done = cli.run("web", "run", passing, failing, "--base-url", site, "-o", "json")
    result = json.loads(done.stdout)
    assert done.returncode == 1 == result["exit_code"], done.stderr
    assert sorted(run["state"] for run in result["runs"]) == ["failed", "passed"]


@pytest.mark.parametrize(
    ("args", "says"),
    [(("--token", "nope"), "refused the token"), (("--url", "http://127.0.0.1:9"), "cannot reach")],
)
def test_a_wrong_token_or_url_exits_2_with_one_line(cli, tmp_path, args, says):
    done = cli.run("web", "run", "--side", str(side(tmp_path / "x.side", "cli-x", PASSING)), *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "nope" not in done.stderr


def test_a_bad_field_exits_2_naming_it(cli, site, tmp_path):
    done = cli.run("web", "run", "--side", str(side(tmp_path / "s.side", "cli-s", PASSING)), "--suite", "nosuch")
    assert done.returncode == 2 and "suite" in done.stderr, done.stderr


def test_ndjson_streams_each_event_and_ends_with_the_result(cli, site, tmp_path):
    done = cli.run("web", "run", "--side", str(side(tmp_path / "n.side", "cli-n", PASSING)), "--base-url", site,
                   "-o", "ndjson")  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, done.stderr
    assert [line["event"] for line in lines][-1] == "result" and lines[-1]["exit_code"] == 0
    tests = [line for line in lines if line["event"] == "test"]
    assert [(line["test"], line["state"]) for line in tests] == [("t0", "passed")]
    assert "t0 attempt 1: passed" in done.stderr  # the human lines go to stderr meanwhile


def test_stopped_from_another_shell_exits_4(cli, site, tmp_path):
    waiting = cli.start("web", "run", "--side", str(side(tmp_path / "slow.side", "cli-stop", SLOW)), "--base-url", site)
    try:
        project_run = project_run_id_of(cli, "cli-stop")
        wait_for_state(cli, f"{WEB}/project-runs/{project_run}", {"running"})
        stopper = cli.run("runs", "stop", project_run)
        assert stopper.returncode == 0, stopper.stdout + stopper.stderr
        assert waiting.wait(60) == 4, waiting.communicate()
    finally:
        waiting.kill()
        waiting.communicate()


def test_a_wait_that_times_out_exits_5_and_leaves_the_run_going(cli, site, tmp_path):
    done = cli.run("web", "run", "--side", str(side(tmp_path / "t.side", "cli-timeout", SLOW)), "--base-url", site,
                   "--timeout", "3", "-o", "json")  # fmt: skip
    result = json.loads(done.stdout)
    assert done.returncode == 5 and result["timed_out"], done.stderr
    project_run = result["runs"][0]["id"]
    assert cli.api("GET", f"{WEB}/project-runs/{project_run}").json()["state"] in ("queued", "running")
    assert cli.run("runs", "stop", project_run).returncode == 0


def test_detach_prints_the_ids_and_exits_5(cli, site, tmp_path):
    done = cli.run("web", "run", "--side", str(side(tmp_path / "d.side", "cli-detach", PASSING)), "--base-url", site,
                   "--detach")  # fmt: skip
    assert done.returncode == 5, done.stderr
    kind, _, run_id = done.stdout.strip().partition(" run ")
    assert kind == "project"
    watched = cli.run("runs", "watch", run_id, "--timeout", "120")
    assert watched.returncode == 0, watched.stdout + watched.stderr


def test_ctrl_c_stops_the_remote_run_and_exits_130(cli, site, tmp_path):
    waiting = cli.start("web", "run", "--side", str(side(tmp_path / "c.side", "cli-ctrl-c", SLOW)), "--base-url", site)
    try:
        project_run = project_run_id_of(cli, "cli-ctrl-c")
        wait_for_state(cli, f"{WEB}/project-runs/{project_run}", {"running"})
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(40) == 130, waiting.communicate()
        assert cli.api("GET", f"{WEB}/project-runs/{project_run}").json()["state"] == "stopped"
    finally:
        waiting.kill()
        waiting.communicate()


def test_a_second_ctrl_c_leaves_at_once(cli, site, tmp_path):
    waiting = cli.start("web", "run", "--side", str(side(tmp_path / "c2.side", "cli-ctrl-c2", SLOW)), "--base-url",
                        site)  # fmt: skip
    try:
        project_run = project_run_id_of(cli, "cli-ctrl-c2")
        wait_for_state(cli, f"{WEB}/project-runs/{project_run}", {"running"})
        waiting.send_signal(signal.SIGINT)
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(10) == 130, waiting.communicate()
    finally:
        waiting.kill()
        waiting.communicate()
        cli.api("POST", f"{WEB}/project-runs/{project_run}/stop")


def test_a_gateway_restart_while_watching_is_survived(cli, site, tmp_path):
    relay = Relay(int(cli.platform.ports["GATEWAY_PORT"]))
    steps = [("open", "/index.html", ""), ("pause", "6000", ""), ("assertTitle", "acceptance", "")]
    waiting = cli.start("web", "run", "--side", str(side(tmp_path / "r.side", "cli-restart", steps)), "--base-url",
                        site, "--url", relay.url)  # fmt: skip
    try:
        project_run = project_run_id_of(cli, "cli-restart")
        wait_for_state(cli, f"{WEB}/project-runs/{project_run}", {"running"})
        relay.restart()
        wait_until(lambda: relay.bad_gateway_answers >= 2, 30, 0.1, what="the CLI to retry across the restart")
        relay.forward()
        out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, out + err
        assert "retrying" in err
    finally:
        waiting.kill()
        relay.close()


def test_artifacts_of_a_failed_run_are_downloaded(cli, site, tmp_path):
    project = side(tmp_path / "a.side", "cli-artifacts", FAILING)
    done = cli.run("web", "run", "--side", str(project), "--base-url", site, "--artifacts-dir", str(tmp_path / "art"))
    assert done.returncode == 1, done.stderr
    files = {path.name: path for path in (tmp_path / "art").rglob("*") if path.is_file()}
    assert files["step-1.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", files
    assert files["final-screenshot.png"].read_bytes()[:4] == b"\x89PNG"
    assert "page says hi" in files["console.json"].read_text()
    assert all(str(path).startswith(str(tmp_path / "art")) for path in files.values())


def test_on_a_terminal_the_view_is_live(cli, site, tmp_path):
    """Under a pseudo-terminal the CLI draws its table (redrawn in place), then the result below it."""
    main, terminal = pty.openpty()
    project = side(tmp_path / "tty.side", "cli-tty", PASSING)
    args = [str(TESTFLEET), "web", "run", "--side", str(project), "--base-url", site]
    process = subprocess.Popen(args, env=cli.env(TERM="xterm-256color", COLUMNS="120"), stdout=terminal,
                               stderr=terminal, stdin=subprocess.DEVNULL)  # fmt: skip
    os.close(terminal)
    shown = b""
    try:
        with contextlib.suppress(OSError):  # EIO once the process has closed its end
            while chunk := os.read(main, 65536):
                shown += chunk
        assert process.wait(60) == 0, shown.decode(errors="replace")
    finally:
        process.kill()
        os.close(main)
    text = shown.decode(errors="replace")
    assert "\x1b[" in text, "no terminal control sequence: not a live view"  # the table is redrawn in place
    assert "project" in text and "passed" in text and "exit 0 (passed)" in text


def test_login_keeps_the_token_for_later_commands(cli, platform):
    token = platform.token("tester", "ci")
    logged = cli.run("login", "--url", platform.gateway, "--token", token, TESTFLEET_URL="", TESTFLEET_TOKEN="")
    assert logged.returncode == 0, logged.stderr
    assert token not in logged.stdout + logged.stderr and "as ci (tester)" in logged.stdout
    [stored] = (cli.home / "config").rglob("config.json")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    listed = cli.run("runs", "list", TESTFLEET_URL="", TESTFLEET_TOKEN="")
    assert listed.returncode == 0, listed.stderr
    refused = cli.run("login", "--url", platform.gateway, "--token", "not-a-token")
    assert refused.returncode == 2 and "refused the token" in refused.stderr
