"""Start the browser for one run (local headless Chromium or a Selenium Grid) and remove it without a trace."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options as ChromeOptions
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from shared.child_env import scrubbed_env
from shared.host_policy import HostPolicy, Target
from web_test_service.runner.grid import delete_session, grid_endpoints
from web_test_service.runner.policy import SETTING
from web_test_service.runner.proxy import FilteringProxy, Refusal, Unreachable

log = logging.getLogger(__name__)

DEFAULT_CHROMEDRIVER = "/usr/bin/chromedriver"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
DEFAULT_WINDOW_SIZE = (1280, 800)
# Where a Grid's browsers reach the run's proxy (WEB_PROXY_HOST): this host, when the Grid runs on it.
DEFAULT_PROXY_HOST = "127.0.0.1"
# Flags that work as root in a container or VM without a display or a user namespace sandbox.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Chromium's own traffic (hints, translation, phishing models, metrics, default apps' updates): stopped at the
    # source rather than refused by the proxy. What no switch stops is in proxy.py, BROWSER_SERVICE_HOSTS.
    "--disable-features=OptimizationHints,OptimizationGuideModelDownloading,OptimizationHintsFetching,"
    "OptimizationTargetPrediction,MediaRouter,Translate,AutofillServerCommunication",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-component-extensions-with-background-pages",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--no-pings",
    # The proxy resolves every target itself; Chromium resolves nothing (no prefetch or preconnect reaches the
    # resolver), only the proxy's own address, which is a literal.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    # Every request goes through the run's filtering proxy (proxy.py), loopback included (Chromium bypasses
    # proxies for loopback unless told not to); nothing may leave around it: no QUIC, no UDP from WebRTC.
    "--proxy-bypass-list=<-loopback>",
    "--disable-quic",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)
PROCESS_EXIT_TIMEOUT_S = 5.0
PROFILE_PREFIX = "testfleet-chromium-"
# In the environment of every chromedriver (and so Chromium) TestFleet starts: the pid of the process that
# owns it. The orphan sweep kills only processes that carry it, never another program's chromedriver.
BROWSER_MARKER = "TESTFLEET_BROWSER"
# A zombie has exited (only its parent has not reaped it yet): it counts as gone.
DEAD_STATES = frozenset({psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD})


class BrowserStartError(RuntimeError):
    """The browser could not be started: an infrastructure problem the caller may retry with backoff."""


def chrome_options(
    window_size: tuple[int, int], profile_dir: str | None, binary: str | None, proxy: str | None = None
) -> ChromeOptions:
    """Chromium options for a run: headless, isolated profile, its proxy, dialogs left to the runner."""
    options = ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    if proxy:
        options.add_argument(f"--proxy-server=http://{proxy}")
    options.add_argument(f"--window-size={window_size[0]},{window_size[1]}")
    if profile_dir:
        options.add_argument(f"--user-data-dir={profile_dir}")
    if binary:
        options.binary_location = binary
    # The runner answers dialogs itself (see commands/dialogs.py); chromedriver must not dismiss them.
    options.set_capability("unhandledPromptBehavior", "ignore")
    # The console and the network events are how runner/policy.py learns what Chromium itself refused.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    return options


class Browser:
    """A started browser; entering yields the WebDriver, leaving quits it and kills what survives.

    A Grid's browser (remote_url) has no local process: ending it is ending its session on the Grid.
    """

    def __init__(
        self,
        driver: WebDriver,
        service: Service | None = None,
        profile_dir: str | None = None,
        proxy: FilteringProxy | None = None,
        remote_url: str | None = None,
    ) -> None:
        self.driver = driver
        self.service = service
        self.profile_dir = profile_dir
        self.proxy = proxy
        self.remote_url = remote_url
        self.chromedriver_pid: int | None = service.process.pid if service and service.process else None
        self._closed = False

    def __enter__(self) -> WebDriver:
        return self.driver

    def __exit__(self, *exc_info: object) -> None:
        self.quit()

    def take_refusals(self) -> list[Refusal]:
        """Requests the proxy refused since the last call (runner/policy.py reports them)."""
        return self.proxy.take_refusals() if self.proxy else []

    def take_unreachable(self) -> list[Unreachable]:
        return self.proxy.take_unreachable() if self.proxy else []

    def process_ids(self) -> set[int]:
        """Live processes of this browser: chromedriver, its descendants and anything using the profile."""
        return browser_process_ids(self.chromedriver_pid, self.profile_dir)

    def abort(self) -> None:
        """Kill the browser at once, e.g. to unblock a WebDriver call that ignores a stop request."""
        if self.remote_url:
            self.end_remote_session()
            return
        kill_processes(self.process_ids(), self.chromedriver_pid)

    def end_remote_session(self) -> None:
        """Close the proxy, then delete the session on the Grid through a request of its own.

        The proxy first: cutting the page's connections ends a load that never finishes, which the Grid's
        chromedriver would otherwise finish before it takes the DELETE (it runs one command at a time).
        """
        if self.proxy is not None:
            self.proxy.close()
        if self.remote_url and self.driver.session_id:
            delete_session(self.remote_url, self.driver.session_id)

    def quit(self) -> None:
        """Quit the session; then kill any leftover process and delete the profile (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.remote_url:
            self.end_remote_session()
            executor = self.driver.command_executor
            if not isinstance(executor, str):  # the connections to the Grid; the session is already gone
                with contextlib.suppress(Exception):
                    executor.close()
            return
        try:
            self.driver.quit()
        except Exception as error:  # a dead browser must not prevent the cleanup below
            log.warning("driver.quit() failed: %s", error)
        # Every Chromium process carries the profile dir in its command line, even once orphaned.
        kill_processes(self.process_ids(), self.chromedriver_pid)
        if self.service is not None and self.service.process is not None:
            # Reap chromedriver if Selenium has not (a zombie would still show up in process lists).
            with contextlib.suppress(Exception):
                self.service.process.wait(timeout=PROCESS_EXIT_TIMEOUT_S)
        if self.proxy is not None:
            self.proxy.close()
        if self.profile_dir:
            shutil.rmtree(self.profile_dir, ignore_errors=True)


def make_driver(
    settings: Any = None,
    *,
    policy: HostPolicy | None = None,
    remote_url: str | None = None,
    chromedriver_path: str | None = None,
    chromium_path: str | None = None,
    window_size: tuple[int, int] = DEFAULT_WINDOW_SIZE,
    proxy_host: str | None = None,
) -> Browser:
    """Start Remote(selenium_remote_url) if set, else local headless Chromium; BrowserStartError if it fails.

    Either browser goes through a filtering proxy judging every request by policy (settings.host_policy;
    without either, WEB_ALLOWED_HOSTS's default: any host but loopback, link-local and metadata addresses).
    A Grid's browser reaches its proxy on proxy_host (settings.web_proxy_host, WEB_PROXY_HOST).
    """
    remote_url = remote_url or getattr(settings, "selenium_remote_url", None)
    policy = policy or getattr(settings, "host_policy", None) or HostPolicy.from_setting("*", SETTING)
    if remote_url:
        proxy_host = proxy_host or getattr(settings, "web_proxy_host", None) or DEFAULT_PROXY_HOST
        return make_remote_browser(remote_url, policy, proxy_host, window_size)

    chromedriver_path = chromedriver_path or getattr(settings, "chromedriver_path", None) or DEFAULT_CHROMEDRIVER
    # The Chromium binary: the argument, else a `chromium_path` attribute of settings (WebTestSettings has
    # none), else /usr/bin/chromium. It is only a preference: when that file does not exist, chromedriver
    # starts whatever Chrome/Chromium it finds itself.
    chromium_path = chromium_path or getattr(settings, "chromium_path", None) or DEFAULT_CHROMIUM
    if not Path(chromedriver_path).exists():
        raise BrowserStartError(f"chromedriver not found at {chromedriver_path}")
    # Selenium Manager would try to download drivers; there is no network for it.
    os.environ.setdefault("SE_OFFLINE", "true")
    # The owner's pid in the name lets sweep_orphaned_browsers() find browsers whose worker died.
    profile_dir = tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-")
    proxy = FilteringProxy(policy)
    # Test code runs in this browser: it gets no secret of the worker's (shared/src/shared/child_env.py), a
    # home inside the profile (removed with it) and the marker the orphan sweep looks for. A new session makes
    # chromedriver a process-group leader, so the group can be killed as a whole.
    env = scrubbed_env(HOME=str(Path(profile_dir) / "home"), **{BROWSER_MARKER: str(os.getpid())})
    service = Service(chromedriver_path, env=env, popen_kw={"start_new_session": True})
    binary = chromium_path if Path(chromium_path).exists() else None  # None: chromedriver's own lookup
    try:
        driver = webdriver.Chrome(
            service=service, options=chrome_options(window_size, profile_dir, binary, proxy.address)
        )
    except Exception as error:
        chromedriver_pid = service.process.pid if getattr(service, "process", None) else None
        kill_processes(browser_process_ids(chromedriver_pid, profile_dir), chromedriver_pid)
        with contextlib.suppress(Exception):  # best effort, the processes are already killed
            service.stop()
        proxy.close()
        shutil.rmtree(profile_dir, ignore_errors=True)
        raise BrowserStartError(f"Cannot start Chromium: {first_line(error)}") from error
    # A page must not drive its own browser: chromedriver's and DevTools' ports, and the proxy's, are refused.
    proxy.guard(Target("127.0.0.1", port) for port in control_ports(driver, service, proxy))
    return Browser(driver, service, profile_dir, proxy)


def make_remote_browser(remote_url: str, policy: HostPolicy, proxy_host: str, window_size: tuple[int, int]) -> Browser:
    """A browser on the Grid at remote_url, its requests through a proxy of this worker listening on proxy_host."""
    try:
        proxy = FilteringProxy(policy, proxy_host)
    except OSError as error:
        message = f"Cannot start the browser's proxy on {proxy_host} (WEB_PROXY_HOST): {error}"
        raise BrowserStartError(message) from error
    # A page must not drive the Grid (new sessions, this one's commands) nor chain through its own proxy.
    proxy.guard([*grid_endpoints(remote_url), Target(proxy.host, proxy.port), Target("127.0.0.1", proxy.port)])
    try:
        options = chrome_options(window_size, None, None, proxy.address)
        driver = webdriver.Remote(command_executor=remote_url, options=options)
    except Exception as error:
        proxy.close()
        raise BrowserStartError(f"Cannot start a browser on {remote_url}: {first_line(error)}") from error
    return Browser(driver, proxy=proxy, remote_url=remote_url)


def control_ports(driver: WebDriver, service: Service, proxy: FilteringProxy) -> list[int]:
    """The local ports that control this browser: chromedriver's, DevTools' (localhost:PORT) and the proxy's."""
    ports = [service.port, proxy.port]
    debugger = str((driver.capabilities.get("goog:chromeOptions") or {}).get("debuggerAddress") or "")
    if debugger.rpartition(":")[2].isdigit():
        ports.append(int(debugger.rpartition(":")[2]))
    return ports


def first_line(error: BaseException) -> str:
    """First line of an error message (chromedriver appends long stack traces)."""
    message = getattr(error, "msg", None) if isinstance(error, WebDriverException) else None
    return (message or str(error) or type(error).__name__).strip().splitlines()[0]


def is_running(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() not in DEAD_STATES
    except psutil.Error:
        return False


def browser_process_ids(chromedriver_pid: int | None, profile_dir: str | None) -> set[int]:
    """Running pids that belong to one browser: chromedriver's descendants and users of its profile dir."""
    found: set[int] = set()
    if profile_dir:
        for process in psutil.process_iter(["cmdline", "status"]):
            if process.info["status"] not in DEAD_STATES and any(
                profile_dir in argument for argument in process.info["cmdline"] or ()
            ):
                found.add(process.pid)
    if chromedriver_pid and is_running(chromedriver_pid):
        found.add(chromedriver_pid)
        # Renderers and zygotes are children of chromium, chromium of chromedriver.
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(chromedriver_pid).children(recursive=True):
                if is_running(child.pid):
                    found.add(child.pid)
    found.discard(os.getpid())
    return found


def kill_processes(pids: set[int], process_group: int | None = None) -> None:
    """SIGKILL the pids (and chromedriver's process group) and wait until they are gone."""
    if process_group and is_running(process_group):
        with contextlib.suppress(OSError):
            os.killpg(process_group, signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + PROCESS_EXIT_TIMEOUT_S
    while time.monotonic() < deadline and any(is_running(pid) for pid in pids):
        time.sleep(0.02)


def sweep_orphaned_browsers(temp_dir: str | None = None) -> int:
    """Kill browsers whose owning process died (a SIGKILLed worker cannot quit them); return how many."""
    root = Path(temp_dir or tempfile.gettempdir())
    killed = 0
    for profile in root.glob(f"{PROFILE_PREFIX}*"):
        owner = profile.name[len(PROFILE_PREFIX) :].split("-", 1)[0]
        if not owner.isdigit() or is_running(int(owner)):
            continue
        pids = browser_process_ids(None, str(profile))
        kill_processes(pids)
        killed += len(pids)
        shutil.rmtree(profile, ignore_errors=True)
    # chromedriver carries no profile in its command line: an orphan is one adopted by init whose environment
    # names a dead TestFleet owner. Any other chromedriver on the host is someone else's.
    for process in psutil.process_iter(["name", "ppid", "status"]):
        info = process.info
        if info["name"] == "chromedriver" and info["ppid"] == 1 and info["status"] not in DEAD_STATES:
            owner_pid = browser_owner(process)
            if owner_pid is not None and not is_running(owner_pid):
                kill_processes({process.pid})
                killed += 1
    return killed


def browser_owner(process: psutil.Process) -> int | None:
    """The pid in the process's TESTFLEET_BROWSER marker; None if it has none (not TestFleet's) or is unreadable."""
    try:
        marker = process.environ().get(BROWSER_MARKER, "")
    except psutil.Error:
        return None
    return int(marker) if marker.isdigit() else None
