"""wait_until: the value, the deadline, and which exceptions of the predicate mean "not yet"."""

from __future__ import annotations

import time

import pytest

from shared.testing import wait_until


def calls_returning(*values):
    """A predicate answering values one call after the other (the last one for ever); counts its calls."""
    answers = list(values)

    def predicate():
        predicate.calls += 1
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    predicate.calls = 0
    return predicate


def test_returns_the_first_truthy_value():
    predicate = calls_returning(None, 0, [], {"state": "passed"})
    assert wait_until(predicate, 5, 0.01, what="the run") == {"state": "passed"}
    assert predicate.calls == 4


def test_times_out_naming_what_it_waited_for():
    predicate = calls_returning(False)
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"^timed out after 0\.3s waiting for the queue drained$"):
        wait_until(predicate, 0.3, 0.02, what="the queue drained")
    took = time.monotonic() - started
    assert 0.3 <= took < 2, took
    assert predicate.calls >= 5  # it kept polling until the deadline


def test_a_predicate_exception_is_raised_at_once_with_what():
    predicate = calls_returning(None, KeyError("state"), True)
    started = time.monotonic()
    with pytest.raises(KeyError) as raised:
        wait_until(predicate, 30, 0.01, what="the run to be running")
    took = time.monotonic() - started
    assert took < 1, f"raised only after {took:.2f}s of a 30 s deadline"
    assert predicate.calls == 2  # never called again after it raised
    assert any("the run to be running" in note for note in raised.value.__notes__)


def test_ignores_only_the_listed_exceptions():
    predicate = calls_returning(ConnectionRefusedError("starting"), ConnectionResetError("restarting"), "up")
    assert wait_until(predicate, 5, 0.01, what="the server", ignore=(ConnectionError,)) == "up"
    assert predicate.calls == 3

    other = calls_returning(ConnectionRefusedError("starting"), ValueError("bad answer"), "up")
    started = time.monotonic()
    with pytest.raises(ValueError, match="bad answer"):
        wait_until(other, 30, 0.01, what="the server", ignore=(ConnectionError,))
    assert time.monotonic() - started < 1
    assert other.calls == 2


def test_a_deadline_spent_on_ignored_exceptions_names_the_last_one():
    predicate = calls_returning(ConnectionRefusedError("refused"))
    with pytest.raises(AssertionError, match=r"waiting for redis .*last error: ConnectionRefusedError\('refused'\)"):
        wait_until(predicate, 0.2, 0.02, what="redis", ignore=(ConnectionError,))
