"""One browser session for several scripts in turn: a persistSession suite's tests share cookies and storage."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any


class PersistentSession:
    """A driver_factory for run_script that starts its browser once and hands the same one to every run.

    run_script quits the browser it was given when the script ends; the one handed out here is borrowed, so
    leaving it does nothing and the next script goes on in the same session, as in Selenium IDE. A browser
    that died meanwhile (a crash, or the watchdog killing a hung step) is replaced by a new one. close()
    quits it for good.
    """

    def __init__(self, driver_factory: Callable[[], Any]):
        self.driver_factory = driver_factory
        self.browser: Any = None

    def __call__(self) -> Borrowed:
        if self.browser is not None and not _alive(self.browser):
            self.close()
        if self.browser is None:
            self.browser = self.driver_factory()  # BrowserStartError goes to run_script's caller, as usual
        return Borrowed(self.browser)

    def close(self) -> None:
        browser, self.browser = self.browser, None
        if browser is not None:
            browser.__exit__(None, None, None)


class Borrowed:
    """The session's browser for one script: enters as the browser does, leaves it running."""

    def __init__(self, browser: Any):
        self.browser = browser

    def __enter__(self) -> Any:
        return self.browser.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:  # abort(), take_refusals(), ... of the browser itself
        return getattr(self.browser, name)


def _alive(browser: Any) -> bool:
    """True while the browser still answers WebDriver commands."""
    with contextlib.suppress(Exception):
        browser.driver.window_handles  # noqa: B018 (the call is the check)
        return True
    return False
