"""The interpreter: runs a command list step by step with control flow, sub-tests, a stop signal and a watchdog."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from selenium.common.exceptions import UnexpectedAlertPresentException
from selenium.webdriver.remote.webdriver import WebDriver

from web_test_service.runner.commands import CHECK_COMMANDS, COMMANDS, Invocation, evaluate_condition
from web_test_service.runner.context import DEFAULT_IMPLICIT_WAIT_MS, RunContext
from web_test_service.runner.control_flow import (
    LOOP_LIMIT_MESSAGE,
    LOOP_OPENERS,
    Blocks,
    ControlFlowError,
    build_blocks,
    command_name,
    is_skipped,
    loop_limit,
)
from web_test_service.runner.errors import (
    RunEnded,
    ScriptError,
    ScriptTimeout,
    StopRequested,
    SubTestFailure,
    VerificationFailure,
)
from web_test_service.runner.outcomes import classify
from web_test_service.runner.policy import PolicyGuard
from web_test_service.runner.results import ERROR, FAILED, PASSED, SKIPPED, STOPPED, RunResult, StepResult, elapsed_ms
from web_test_service.runner.screenshots import final_screenshot, page_png
from web_test_service.runner.variables import interpolate, json_safe

log = logging.getLogger(__name__)

DEFAULT_WINDOW_TIMEOUT_MS = 2000
MAX_SUB_TEST_DEPTH = 10
# should_stop may hit Redis: ask at most this often, however tight the wait loops poll.
STOP_CHECK_INTERVAL_S = 0.25
# If the run has not noticed a stop or its deadline after this long, it is stuck in a WebDriver
# call (a page that never loads, a Promise that never settles): kill the browser to unblock it.
WATCHDOG_GRACE_S = 1.5

TestResolver = Callable[[str], Sequence[dict] | Mapping[str, Any] | None]


class StopSignal:
    """Thread-safe, rate-limited view of should_stop(); once true it stays true."""

    def __init__(self, should_stop: Callable[[], bool] | None) -> None:
        self._should_stop = should_stop
        self._lock = threading.Lock()
        self._last_check = float("-inf")
        self._stopped = False

    def __call__(self) -> bool:
        if self._stopped or self._should_stop is None:
            return self._stopped
        with self._lock:
            now = time.monotonic()
            if now - self._last_check >= STOP_CHECK_INTERVAL_S:
                self._last_check = now
                try:
                    self._stopped = bool(self._should_stop())
                except Exception as error:  # a flaky stop flag must not kill the run
                    log.warning("should_stop() failed: %s", error)
            return self._stopped


class Watchdog(threading.Thread):
    """Kills a browser stuck in a WebDriver call once a stop or the deadline is overdue."""

    def __init__(self, ctx: RunContext, abort: Callable[[], None] | None) -> None:
        super().__init__(name="web-run-watchdog", daemon=True)
        self.ctx = ctx
        self.abort = abort
        self.done = threading.Event()

    def overdue(self) -> bool:
        deadline = self.ctx.deadline
        return self.ctx.should_stop() or (deadline is not None and time.monotonic() >= deadline)

    def run(self) -> None:
        if self.abort is None:
            return
        while not self.done.wait(STOP_CHECK_INTERVAL_S):
            if self.overdue():
                if self.done.wait(WATCHDOG_GRACE_S):
                    return
                log.warning("Run did not react to stop/deadline within %.1f s: killing its browser", WATCHDOG_GRACE_S)
                self.ctx.browser_killed = True
                self.abort()
                return

    def finish(self) -> None:
        self.done.set()
        self.join(timeout=WATCHDOG_GRACE_S + 1)


def run_script(
    script: Mapping[str, Any],
    driver_factory: Callable[[], AbstractContextManager[WebDriver]],
    *,
    base_url: str | None = None,
    variables: Mapping[str, Any] | None = None,
    on_step: Callable[[StepResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    timeout_ms: int | None = None,
    implicit_wait_ms: int = DEFAULT_IMPLICIT_WAIT_MS,
    resolve_test: TestResolver | None = None,
    screenshots: bool = True,
) -> RunResult:
    """Run a script ({commands, base_url?, timeout_ms?}) in a browser from driver_factory; never leak it.

    driver_factory() returns a context manager yielding a WebDriver (runner.driver.make_driver does);
    BrowserStartError from it propagates so the caller can retry. Everything else becomes a verdict.
    """
    started = time.monotonic()
    commands: list[dict] = list(script.get("commands") or [])
    timeout_ms = timeout_ms or script.get("timeout_ms") or None
    stop = StopSignal(should_stop)
    result = RunResult(state=PASSED)

    try:
        blocks = build_blocks(commands)
    except ControlFlowError as error:
        result.failed_step = error.index
        return result.finish(ERROR, str(error), started)
    if stop():
        return result.finish(STOPPED, "Stopped on request", started)

    browser = driver_factory()
    with browser as driver:
        ctx = RunContext(
            driver=driver,
            base_url=base_url or script.get("base_url") or "",
            variables=dict(variables or {}),
            implicit_wait_ms=implicit_wait_ms,
            should_stop=stop,
            deadline=started + timeout_ms / 1000 if timeout_ms else None,
            timeout_ms=timeout_ms,
            guard=PolicyGuard(driver, browser),
        )
        engine = Engine(ctx, result, on_step, screenshots, resolve_test)
        ctx.run_sub_test = engine.run_sub_test
        ctx.guard.start()  # a reused session must not hand over the previous run's messages
        watchdog = Watchdog(ctx, getattr(browser, "abort", None))
        watchdog.start()
        try:
            engine.run_commands(commands, blocks)
            engine.check_policy_after_last_step()
            if engine.soft_failures:
                result.finish(FAILED, engine.soft_failures[0], started)
            else:
                result.finish(PASSED, None, started)
        except RunEnded as ended:
            result.infrastructure_error = ended.infrastructure and ended.state == ERROR
            result.error_code = ended.code
            result.finish(ended.state, ended.message, started)
        finally:
            # Under the watchdog: a page that hangs the screenshot is killed at the deadline like a step.
            if screenshots and not result.infrastructure_error and not ctx.browser_killed:
                result.final_screenshot = final_screenshot(ctx, result.state)
            watchdog.finish()
            if not result.infrastructure_error and not ctx.browser_killed:
                ctx.guard.drain_console()
            result.console_log = ctx.guard.console_log
        result.echo_log = list(ctx.log)
        result.variables = json_safe(ctx.variables)
    return result.finish(result.state, result.message, started)


@dataclass
class Program:
    """A command list being run: its block structure, loop counters and the branch just jumped to."""

    commands: Sequence[dict]
    blocks: Blocks
    visits: dict[int, int] = field(default_factory=dict)
    branch_taken_to: int | None = None


class Engine:
    """Executes command lists with control flow and turns exceptions into step states."""

    def __init__(
        self,
        ctx: RunContext,
        result: RunResult,
        on_step: Callable[[StepResult], None] | None,
        screenshots: bool,
        resolve_test: TestResolver | None,
    ) -> None:
        self.ctx = ctx
        self.result = result
        self.on_step = on_step
        self.screenshots = screenshots
        self.resolve_test = resolve_test
        self.soft_failures: list[str] = []
        self.sub_test_stack: list[str] = []

    # ---- the command loop ------------------------------------------------------------------------

    def report(self, step: StepResult) -> None:
        self.result.record(step)
        if self.on_step is not None:
            self.on_step(step)

    def run_commands(self, commands: Sequence[dict], blocks: Blocks) -> None:
        """Run a list of commands from the top; top-level steps are reported, sub-test steps are not."""
        nested = bool(self.sub_test_stack)
        program = Program(commands, blocks)
        pc = 0
        while pc < len(commands):
            command = commands[pc]
            if is_skipped(command):
                if not nested:
                    self.report(StepResult.of(pc, command, SKIPPED, 0, "Skipped"))
                pc += 1
                continue
            self.end_if_due()
            begun = time.monotonic()
            try:
                pc_next, message, reported = self.execute(program, pc)
                if not self.ctx.browser_killed:
                    self.ctx.guard.check()  # a request the page made during the step was refused
            except RunEnded:
                raise
            except Exception as raised:  # every failure becomes a step state
                failure = self.explain(raised)
                if nested:
                    self.record_sub_test_failure(pc, command, failure)
                    pc += 1
                    continue
                state, message, soft, infrastructure, code = classify(failure, self.ctx, check=is_check(command))
                duration = elapsed_ms(begun)
                screenshot = self.take_screenshot() if state in (FAILED, ERROR) and not infrastructure else None
                self.report(StepResult.of(pc, command, state, duration, message, screenshot))
                if soft:
                    self.soft_failures.append(message)
                    pc += 1
                    continue
                raise RunEnded(state, message, infrastructure, code) from None
            if reported and not nested:
                self.report(StepResult.of(pc, command, PASSED, elapsed_ms(begun), message))
            pc = pc_next

    def explain(self, raised: Exception) -> Exception:
        """What a step's error really was: a refusal explains whatever else went wrong. After the watchdog killed
        the browser, the stop or the deadline that made it do so, and the browser is not asked."""
        if self.ctx.browser_killed:
            return self.ctx.ending() or raised
        return self.ctx.guard.explain(raised)

    def end_if_due(self) -> None:
        """End the run (RunEnded) if a stop was requested or the deadline passed."""
        ending = self.ctx.ending()
        if ending is not None:
            raise RunEnded(STOPPED if isinstance(ending, StopRequested) else ERROR, str(ending))

    def check_policy_after_last_step(self) -> None:
        """A refusal that came after the last step (a late fetch, a popup) still decides the run; after the
        watchdog killed the browser, the stop or the deadline that made it do so."""
        if self.ctx.browser_killed:
            self.end_if_due()
            return
        found = self.ctx.guard.violation()
        if found is not None:
            raise RunEnded(ERROR, str(found), code=classify(found, self.ctx, check=False).code)

    def take_screenshot(self) -> bytes | None:
        return page_png(self.ctx.driver) if self.screenshots and not self.ctx.browser_killed else None

    # ---- one command -----------------------------------------------------------------------------

    def execute(self, program: Program, pc: int) -> tuple[int, str | None, bool]:
        """Run the program's command at pc; return (next pc, message, whether to report it)."""
        command = program.commands[pc]
        name = command_name(command)
        spec = COMMANDS.get(name)
        if spec is None:
            raise ScriptError(f"Unknown command {name}")
        if spec.handler is None:
            return self.control_flow(program, pc)
        invocation = self.invocation(command, name, spec.keys)
        handles_before = set(self.ctx.driver.window_handles) if command.get("opensWindow") else None
        try:
            message = spec.handler(self.ctx, invocation)
        except UnexpectedAlertPresentException:
            # A dialog opened by an earlier command blocks this one: answer it as Selenium IDE's
            # page override would have, then run the command again.
            self.ctx.close_open_dialog()
            message = spec.handler(self.ctx, invocation)
        if handles_before is not None:
            self.store_new_window(command, handles_before)
        return pc + 1, message, True

    def invocation(self, command: dict, name: str, keys: bool) -> Invocation:
        variables = self.ctx.variables
        raw_target = str(command.get("target") or "")
        fallbacks = tuple(
            interpolate(str(item[0] if isinstance(item, (list, tuple)) else item), variables)
            for item in command.get("targets") or ()
            if item
        )
        return Invocation(
            name=name,
            target=interpolate(raw_target, variables),
            value=interpolate(str(command.get("value") or ""), variables, keys=keys),
            raw_target=raw_target,
            fallbacks=fallbacks,
        )

    def store_new_window(self, command: dict, handles_before: set[str]) -> None:
        timeout = float(command.get("windowTimeout") or DEFAULT_WINDOW_TIMEOUT_MS)
        new_handles = self.ctx.wait_until(
            lambda: set(self.ctx.driver.window_handles) - handles_before,
            timeout,
            lambda: f"No new window opened within {timeout:g} ms",
        )
        name = command.get("windowHandleName") or "newWindow"
        self.ctx.variables[name] = sorted(new_handles)[0]

    # ---- control flow ----------------------------------------------------------------------------

    def control_flow(self, program: Program, pc: int) -> tuple[int, str | None, bool]:
        commands, blocks, visits = program.commands, program.blocks, program.visits
        command = commands[pc]
        name = command_name(command)
        target = str(command.get("target") or "")
        value = str(command.get("value") or "")
        arrived_by_jump = program.branch_taken_to == pc
        program.branch_taken_to = None

        if name in ("if", "elseIf"):
            if name == "elseIf" and not arrived_by_jump:
                # The previous branch ran: leave the if-block.
                return blocks.block_end[pc], None, False
            if evaluate_condition(self.ctx, target):
                return pc + 1, None, True
            program.branch_taken_to = blocks.next_branch[pc]
            return blocks.next_branch[pc], "Condition false", True
        if name == "else":
            if not arrived_by_jump:
                return blocks.block_end[pc], None, False
            return pc + 1, None, True
        if name == "end":
            opener = blocks.block_start[pc]
            if command_name(commands[opener]) in LOOP_OPENERS:
                return opener, None, True
            return pc + 1, None, True
        if name == "do":
            return pc + 1, None, True
        if name == "while":
            if evaluate_condition(self.ctx, target):
                return self.enter_loop(pc, visits, loop_limit(value)), None, True
            visits.pop(pc, None)
            return blocks.block_end[pc] + 1, "Condition false", True
        if name == "repeatIf":
            if evaluate_condition(self.ctx, target):
                self.enter_loop(pc, visits, loop_limit(value))
                return blocks.block_start[pc] + 1, None, True
            visits.pop(pc, None)
            return pc + 1, "Condition false", True
        if name == "times":
            count_text = interpolate(target, self.ctx.variables)
            try:
                count = int(float(count_text))
            except ValueError:
                raise ScriptError(f"Invalid number provided as a target: {count_text!r}") from None
            if visits.get(pc, 0) < count:
                self.enter_loop(pc, visits, loop_limit(value))
                return pc + 1, f"Iteration {visits[pc]} of {count}", True
            visits.pop(pc, None)
            return blocks.block_end[pc] + 1, None, True
        if name == "forEach":
            collection = self.ctx.variables.get(target)
            if not isinstance(collection, (list, tuple)):
                raise ScriptError(f"Variable '{target}' is not an array")
            done = visits.get(pc, 0)
            if done < len(collection):
                self.enter_loop(pc, visits, loop_limit(""))
                self.ctx.variables[value] = collection[done]
                return pc + 1, None, True
            visits.pop(pc, None)
            return blocks.block_end[pc] + 1, None, True
        raise ScriptError(f"Unknown control-flow command {name}")

    def enter_loop(self, pc: int, visits: dict[int, int], limit: int) -> int:
        """Count one more pass of a loop, failing past its limit; return the first command of the body."""
        if visits.get(pc, 0) >= limit:
            raise ScriptError(LOOP_LIMIT_MESSAGE)
        visits[pc] = visits.get(pc, 0) + 1
        return pc + 1

    # ---- sub-tests -------------------------------------------------------------------------------

    def run_sub_test(self, name: str) -> None:
        """Run another test of the project by name, sharing variables (Selenium IDE `run`)."""
        if self.resolve_test is None:
            raise ScriptError(f"Test '{name}' not found: no other tests were given")
        found = self.resolve_test(name)
        if found is None:
            raise ScriptError(f"Test '{name}' not found")
        commands = list(found.get("commands") or []) if isinstance(found, Mapping) else list(found)
        if name in self.sub_test_stack or len(self.sub_test_stack) >= MAX_SUB_TEST_DEPTH:
            raise ScriptError(f"Test '{name}' calls itself recursively")
        blocks = build_blocks(commands)
        soft_before = len(self.soft_failures)
        self.sub_test_stack.append(name)
        try:
            self.run_commands(commands, blocks)
        finally:
            self.sub_test_stack.pop()
        if len(self.soft_failures) > soft_before:
            raise VerificationFailure(self.soft_failures.pop())

    def record_sub_test_failure(self, pc: int, command: dict, error: Exception) -> None:
        """Record a verify failure inside a sub-test (which goes on), or end the `run` step as the command ended,
        saying where it happened (a failed assert fails it, a click that found nothing errs it, whatever `run` is)."""
        target = command.get("target") or ""
        where = f"In test '{self.sub_test_stack[-1]}', command {pc} ({command_name(command)} {target})"
        if isinstance(error, (StopRequested, ScriptTimeout)):
            raise error
        state, message, soft, infrastructure, code = classify(error, self.ctx, check=is_check(command))
        if soft:
            self.soft_failures.append(f"{where}: {message}")
            return
        if infrastructure or state == STOPPED:
            raise error
        raise SubTestFailure(state, f"{where}: {message}", code) from error


def is_check(command: dict) -> bool:
    """Whether the command states an expectation about the page (assert*, verify*, waitFor*)."""
    return command_name(command) in CHECK_COMMANDS
