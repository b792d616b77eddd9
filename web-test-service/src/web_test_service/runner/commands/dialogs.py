"""Dialog commands: assert, accept, dismiss and answer alerts, confirmations and prompts."""

# Selenium IDE overrides alert/confirm/prompt in the page, so the command that opens a dialog is
# followed by assert*/accept*/dismiss*/answer*. Here the dialog really opens; it is answered by the
# dialog commands, or automatically (accept, or what an earlier accept/dismiss/answer armed) when
# another command runs into it. Its text is then kept for a later assertAlert/Confirmation/Prompt.

from __future__ import annotations

from web_test_service.runner.commands.spec import Arg, CommandSpec, Handler, Invocation
from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import StepFailure


def dialog_text(ctx: RunContext, kind: str) -> tuple[str, bool]:
    """Text of the oldest auto-answered dialog or of the open one (and whether it is still open)."""

    def probe() -> tuple[str, bool] | None:
        if ctx.dialogs.unasserted_texts:
            return ctx.dialogs.unasserted_texts.popleft(), False
        text = ctx.open_alert_text()
        return (text, True) if text is not None else None

    return ctx.wait_until(probe, ctx.implicit_wait_ms, lambda: f"No {kind} was shown")


def check_dialog(ctx: RunContext, inv: Invocation, kind: str) -> bool:
    """Compare the dialog's text with the target; return whether the dialog is still open."""
    actual, still_open = dialog_text(ctx, kind)
    if actual != inv.target:
        if still_open and kind == "alert":
            ctx.driver.switch_to.alert.accept()
        raise StepFailure(f'Actual {kind} text "{actual}" did not match "{inv.target}"')
    return still_open


def assert_alert(ctx: RunContext, inv: Invocation) -> None:
    # An alert has only OK, and Selenium IDE records no accept after assertAlert.
    if check_dialog(ctx, inv, "alert"):
        ctx.driver.switch_to.alert.accept()


def assert_confirmation(ctx: RunContext, inv: Invocation) -> None:
    check_dialog(ctx, inv, "confirmation")


def assert_prompt(ctx: RunContext, inv: Invocation) -> None:
    check_dialog(ctx, inv, "prompt")


def answer_dialog(ctx: RunContext, accept: bool, answer: str | None = None) -> str | None:
    """Answer the open dialog, or arm the answer for the next one when none is open yet."""
    if ctx.open_alert_text() is None:
        ctx.dialogs.armed_accept, ctx.dialogs.armed_answer = accept, answer
        return "No dialog open: the answer applies to the next dialog"
    alert = ctx.driver.switch_to.alert
    if accept:
        if answer is not None:
            alert.send_keys(answer)
        alert.accept()
    else:
        alert.dismiss()
    return None


def do_accept_alert(ctx: RunContext, inv: Invocation) -> str | None:
    return answer_dialog(ctx, True)


def do_accept_confirmation(ctx: RunContext, inv: Invocation) -> str | None:
    return answer_dialog(ctx, True)


def do_dismiss_confirmation(ctx: RunContext, inv: Invocation) -> str | None:
    return answer_dialog(ctx, False)


def do_answer_prompt(ctx: RunContext, inv: Invocation) -> str | None:
    return answer_dialog(ctx, True, inv.target)


def do_dismiss_prompt(ctx: RunContext, inv: Invocation) -> str | None:
    return answer_dialog(ctx, False)


ACTIONS: dict[str, CommandSpec] = {
    "acceptAlert": CommandSpec(do_accept_alert),
    "acceptConfirmation": CommandSpec(do_accept_confirmation),
    "dismissConfirmation": CommandSpec(do_dismiss_confirmation),
    "dismissPrompt": CommandSpec(do_dismiss_prompt),
    "answerPrompt": CommandSpec(do_answer_prompt, Arg.OPTIONAL_TEXT),
}

# Registered as assertX and verifyX like the other assertions.
ASSERTIONS: dict[str, tuple[Handler, Arg, Arg]] = {
    "Alert": (assert_alert, Arg.OPTIONAL_TEXT, Arg.NONE),
    "Confirmation": (assert_confirmation, Arg.OPTIONAL_TEXT, Arg.NONE),
    "Prompt": (assert_prompt, Arg.OPTIONAL_TEXT, Arg.NONE),
}
