"""A small headless-Chromium driver for the browser tests, over the Chrome DevTools
Protocol (CDP) and the project's own WebSocket client.

Why not Playwright or Selenium: both bring a second browser download or a driver binary
and a large dependency for what five or six CDP commands do. Debian's `chromium` (or
`chromium-headless-shell`) is enough, and CDP is plain JSON over a WebSocket, which
`frolic_tools.local.websocket_protocol` already speaks.

    with Chromium.launch() as browser:
        page = browser.new_page()
        page.navigate(f"{base_url}/admin")
        page.fill("#admin-name", "marketer")
        page.click("#admin-sign-in")
        page.wait_for("document.querySelector('#status-message').dataset.kind === 'ok'")
        page.screenshot(path)
        assert page.errors == []

One thread drives each page: a command is sent and its answer read, and the events
that arrive meanwhile (console messages, exceptions, page loads) are recorded on the
way. Waiting is always for a condition with a deadline (`wait_for`), never a bare sleep.
The browser runs in its own process group and its own temporary profile; `close` kills
the group and removes the profile, whatever happened.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote, urlsplit

from frolic_tools.local.websocket_protocol import ConnectionClosedError, WebSocketClient, connect

#: Where the browser is looked for, in order, when FROLIC_CHROMIUM is not set.
CANDIDATES: Final = ("chromium", "chromium-headless-shell", "/usr/lib/chromium/chromium")
ENV_BINARY: Final = "FROLIC_CHROMIUM"
INSTALL_HINT: Final = (
    "Install Debian's Chromium with `sudo apt-get install -y chromium` "
    "(`make test` does it when it is missing), or point FROLIC_CHROMIUM at a Chromium binary."
)
#: The flags the brief asks for, plus a few that keep a container run quiet and stable:
#: /dev/shm is tiny in containers, and the pages must never reach past loopback.
FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)
VIEWPORT: Final = (1280, 900)
#: Screenshots come back as base64 in one message: far above the API Gateway limit that
#: the WebSocket client defaults to.
MAX_CDP_MESSAGE: Final = 64 * 1024 * 1024
POLL_SECONDS: Final = 0.05
_NO_PROXY: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BrowserError(AssertionError):
    """The browser or the page did not do what a test asked. An AssertionError, so a
    test reads it as a failure, with the reason in one line."""


class ChromiumNotFoundError(BrowserError):
    """No Chromium binary: the message says how to install one."""


def find_chromium() -> str:
    """The Chromium binary to run: FROLIC_CHROMIUM when set (a name on PATH or a path),
    else the first of CANDIDATES that exists. Never skips: a missing browser is a
    failure with the install command in the message, so it cannot hide a broken page."""
    override = os.environ.get(ENV_BINARY, "").strip()
    if override:
        found = shutil.which(override)
        if found is None:
            raise ChromiumNotFoundError(
                f"{ENV_BINARY}={override!r} is not an executable file. {INSTALL_HINT}"
            )
        return found
    for candidate in CANDIDATES:
        found = shutil.which(candidate)
        if found is not None:
            return found
    raise ChromiumNotFoundError(
        "No Chromium for the browser tests: looked for "
        + ", ".join(CANDIDATES)
        + ". "
        + INSTALL_HINT
    )


def _http_json(method: str, url: str, timeout: float = 5.0) -> Any:
    """One request to the DevTools HTTP endpoint (loopback: never through a proxy)."""
    request = urllib.request.Request(url, method=method)
    with _NO_PROXY.open(request, timeout=timeout) as response:
        body = response.read()
    return json.loads(body) if body.strip().startswith((b"{", b"[")) else body.decode()


@dataclass(frozen=True, slots=True)
class ConsoleMessage:
    type: str  # log, info, warning, error, assert, ...
    text: str


class Chromium:
    """One headless Chromium process with a throw-away profile; pages are its tabs."""

    def __init__(
        self, binary: str, process: subprocess.Popen[bytes], root: Path, port: int
    ) -> None:
        self.binary = binary
        self.port = port
        self._process = process
        self._root = root
        self._pages: list[Page] = []

    @classmethod
    def launch(cls, binary: str | None = None, *, timeout: float = 30.0) -> Chromium:
        """Start the browser and wait for its DevTools port.

        The port is the one Chromium picked (`--remote-debugging-port=0`) and wrote to
        DevToolsActivePort in the profile: no fixed port, so parallel runs cannot
        collide. The browser's own chatter goes to a log whose tail is quoted if it
        fails to start.
        """
        binary = binary or find_chromium()
        root = Path(tempfile.mkdtemp(prefix="frolic-chromium-"))
        profile = root / "profile"
        profile.mkdir()
        log_path = root / "chromium.log"
        try:
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: killed as one
                )
        except OSError as error:
            shutil.rmtree(root, ignore_errors=True)
            raise BrowserError(f"cannot start {binary}: {error}") from None
        browser = cls(binary, process, root, 0)
        try:
            browser.port = browser._devtools_port(profile / "DevToolsActivePort", timeout)
        except BaseException:
            browser.close()
            raise
        return browser

    def _devtools_port(self, port_file: Path, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise BrowserError(
                    f"{self.binary} exited with {self._process.returncode} before DevTools "
                    f"was up; its log ends with:\n{self._log_tail()}"
                )
            # The file may exist before its first line is written: then not yet.
            with contextlib.suppress(OSError, ValueError, IndexError):
                first_line = port_file.read_text().splitlines()[0]
                port = int(first_line)
                # The file can be written a moment before the HTTP endpoint answers.
                _http_json("GET", f"http://127.0.0.1:{port}/json/version", timeout=2.0)
                return port
            if time.monotonic() > deadline:
                raise BrowserError(
                    f"{self.binary} gave no DevTools port within {timeout} s; its log ends "
                    f"with:\n{self._log_tail()}"
                )
            time.sleep(POLL_SECONDS)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = (self._root / "chromium.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def new_page(self) -> Page:
        """A fresh tab at about:blank, with console and exception collection already on."""
        target = _http_json("PUT", f"http://127.0.0.1:{self.port}/json/new?about:blank")
        if not isinstance(target, dict) or "webSocketDebuggerUrl" not in target:
            raise BrowserError(f"DevTools did not open a tab: {target!r}")
        socket = connect(
            target["webSocketDebuggerUrl"], timeout=10.0, max_message_bytes=MAX_CDP_MESSAGE
        )
        page = Page(self, str(target["id"]), socket)
        self._pages.append(page)
        try:
            page.start()
        except BaseException:
            page.close()
            raise
        return page

    def _close_target(self, target_id: str) -> None:
        with contextlib.suppress(OSError, ValueError, urllib.error.URLError):
            _http_json("GET", f"http://127.0.0.1:{self.port}/json/close/{quote(target_id)}")

    def close(self) -> None:
        """Kill the browser's process group and remove its profile; safe to repeat."""
        for page in list(self._pages):
            page.close()
        process = self._process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        # The renderers and helpers share the group; none may outlive the test run.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Page:
    """One tab, driven over its own CDP WebSocket.

    `errors` collects what would make a page broken for a user: uncaught exceptions,
    `console.error`/`console.assert` calls, error-level browser log entries (a CSP
    violation, say) and a crashed renderer. Failed requests are kept apart in
    `network_errors`, because a 404 can be part of a page's protocol (the player page
    polls for a play that may not be stored yet).
    """

    def __init__(self, browser: Chromium, target_id: str, socket: WebSocketClient) -> None:
        self._browser = browser
        self.target_id = target_id
        self._socket = socket
        self._next_id = 0
        self._loads = 0
        self._closed = False
        self.errors: list[str] = []
        self.network_errors: list[str] = []
        self.console: list[ConsoleMessage] = []

    def start(self) -> None:
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Log.enable")
        width, height = VIEWPORT
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    # -- the protocol -------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 15.0) -> Any:
        """Send one CDP command and answer its result; events read meanwhile are recorded."""
        self._next_id += 1
        command_id = self._next_id
        self._send(command_id, method, params)
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline, f"the answer to {method}")
            if message.get("id") == command_id:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self._on_event(message["method"], message.get("params", {}))
            # an answer to an earlier command that timed out: nobody waits for it

    def _send(self, command_id: int, method: str, params: dict[str, Any] | None) -> None:
        payload = {"id": command_id, "method": method, "params": params or {}}
        try:
            self._socket.send_text(json.dumps(payload))
        except ConnectionClosedError as error:
            raise BrowserError(f"the tab's DevTools connection is gone: {error}") from None

    def _receive(self, deadline: float, what: str) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrowserError(f"timed out waiting for {what}")
        try:
            raw = self._socket.recv_text(timeout=remaining)
        except TimeoutError:
            raise BrowserError(f"timed out waiting for {what}") from None
        except ConnectionClosedError as error:
            raise BrowserError(f"the tab's DevTools connection is gone: {error}") from None
        message: dict[str, Any] = json.loads(raw)
        return message

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Page.loadEventFired":
            self._loads += 1
        elif method == "Runtime.exceptionThrown":
            self.errors.append("uncaught: " + _describe_exception(params["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(_describe_value(arg) for arg in params.get("args", []))
            kind = str(params.get("type", "log"))
            self.console.append(ConsoleMessage(kind, text))
            if kind in ("error", "assert"):
                self.errors.append(f"console.{kind}: {text}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                line = f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()
                if entry.get("source") == "network":
                    self.network_errors.append(line)
                else:
                    self.errors.append(line)
        elif method == "Page.javascriptDialogOpening":
            # The pages never use alert/confirm; one would block every later command.
            self.errors.append(f"dialog: {params.get('type')}: {params.get('message')}")
            self._next_id += 1
            self._send(self._next_id, "Page.handleJavaScriptDialog", {"accept": False})
        elif method == "Inspector.targetCrashed":
            self.errors.append("the tab crashed")

    # -- running script -----------------------------------------------------------------

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """The expression's value (JSON-able values only); BrowserError if it throws."""
        result = self.call(
            "Runtime.evaluate",
            {
                "expression": expression,
                "returnByValue": True,
                "awaitPromise": await_promise,
                "userGesture": True,
            },
        )
        if "exceptionDetails" in result:
            raise BrowserError(
                f"{expression[:120]!r} threw: {_describe_exception(result['exceptionDetails'])}"
            )
        return result.get("result", {}).get("value")

    def wait_for(self, condition: str, timeout: float = 10.0, *, what: str | None = None) -> Any:
        """The first truthy value of the JS expression `condition`, polled until `timeout`.

        A condition that throws (its element is not there yet, say) counts as not yet
        true; the last error is quoted if the deadline passes.
        """
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            try:
                value = self.evaluate(condition)
            except BrowserError as error:
                value, last_error = None, str(error)
            if value:
                return value
            if time.monotonic() > deadline:
                detail = f" (last error: {last_error})" if last_error else ""
                raise BrowserError(
                    f"timed out after {timeout} s waiting for {what or condition}{detail}; "
                    f"page errors: {self.errors}"
                )
            time.sleep(POLL_SECONDS)

    def _element_script(self, selector: str, body: str) -> str:
        """A script that finds `selector` (or throws saying it is missing), then runs body
        with the element as `el`."""
        return (
            "(() => {"
            f"const selector = {json.dumps(selector)};"
            "const el = document.querySelector(selector);"
            "if (!el) throw new Error('no element matches ' + selector);"
            f"{body}"
            "})()"
        )

    # -- what a user does ---------------------------------------------------------------

    def navigate(self, url: str, timeout: float = 15.0) -> None:
        """Open `url` and return once its load event fired (deferred scripts have run)."""
        loads_before = self._loads
        result = self.call("Page.navigate", {"url": url}, timeout=timeout)
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        deadline = time.monotonic() + timeout
        while self._loads == loads_before:
            message = self._receive(deadline, f"{url} to load")
            if "method" in message:
                self._on_event(message["method"], message.get("params", {}))

    def fill(self, selector: str, text: str) -> None:
        """Set an input's or select's value as typing would, then fire input and change.

        The native value setter is used (a framework's own setter is bypassed, as for
        real typing), and the value is read back: an input that sanitises the text away
        (a number input given letters) is an error here, not a silent empty field.
        """
        body = (
            f"const text = {json.dumps(text)};"
            "const proto = Object.getPrototypeOf(el);"
            "const setter = Object.getOwnPropertyDescriptor(proto, 'value');"
            "if (!setter || !setter.set) throw new Error(selector + ' has no value to fill');"
            "el.focus();"
            "setter.set.call(el, text);"
            "el.dispatchEvent(new Event('input', { bubbles: true }));"
            "el.dispatchEvent(new Event('change', { bubbles: true }));"
            "return el.value;"
        )
        value = self.evaluate(self._element_script(selector, body))
        if value != text:
            raise BrowserError(f"{selector} holds {value!r} after filling it with {text!r}")

    def click(self, selector: str) -> None:
        """A real left click (mouse pressed and released) at the element's centre.

        The element is scrolled into view first, and whatever is on top at that point
        must be the element or inside it, so a click on a hidden or covered control fails
        here instead of landing elsewhere.
        """
        body = (
            "if (el.disabled) throw new Error(selector + ' is disabled');"
            "el.scrollIntoView({ block: 'center', inline: 'center' });"
            "const r = el.getBoundingClientRect();"
            "if (r.width === 0 || r.height === 0) throw new Error(selector + ' is not visible');"
            "const x = r.left + r.width / 2, y = r.top + r.height / 2;"
            "const hit = document.elementFromPoint(x, y);"
            "if (!hit || !(hit === el || el.contains(hit))) {"
            "  const what = hit ? hit.outerHTML.slice(0, 80) : 'nothing';"
            "  throw new Error(selector + ' is covered by ' + what);"
            "}"
            "return [x, y];"
        )
        x, y = self.evaluate(self._element_script(selector, body))
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )

    def set_files(self, selector: str, paths: list[Path]) -> None:
        """Choose files in an <input type=file>, as the file picker would."""
        found = self.call(
            "Runtime.evaluate", {"expression": f"document.querySelector({json.dumps(selector)})"}
        )
        object_id = found.get("result", {}).get("objectId")
        if not object_id:
            raise BrowserError(f"no element matches {selector}")
        self.call(
            "DOM.setFileInputFiles",
            {"files": [str(path.resolve()) for path in paths], "objectId": object_id},
        )

    def text(self, selector: str) -> str:
        """The element's rendered text (innerText), trimmed."""
        value = self.evaluate(self._element_script(selector, "return el.innerText;"))
        return str(value).strip()

    def attribute(self, selector: str, name: str) -> str | None:
        """The attribute's value, or None when the element does not carry it."""
        value = self.evaluate(
            self._element_script(selector, f"return el.getAttribute({json.dumps(name)});")
        )
        return None if value is None else str(value)

    def exists(self, selector: str) -> bool:
        return bool(self.evaluate(f"document.querySelector({json.dumps(selector)}) !== null"))

    @property
    def url(self) -> str:
        return str(self.evaluate("location.href"))

    # -- evidence -----------------------------------------------------------------------

    def screenshot(
        self, path: Path, *, selector: str | None = None, full_page: bool = False
    ) -> Path:
        """Write a PNG of the viewport, the whole page, or one element (`selector`)."""
        params: dict[str, Any] = {"format": "png"}
        clip: dict[str, Any] | None = None
        if selector is not None:
            clip = self.evaluate(
                self._element_script(
                    selector,
                    "el.scrollIntoView({ block: 'start' });"
                    "const r = el.getBoundingClientRect();"
                    "return { x: r.left + scrollX, y: r.top + scrollY,"
                    " width: Math.max(1, r.width), height: Math.max(1, r.height) };",
                )
            )
        elif full_page:
            # From the top: a sticky bar is drawn where the page is scrolled to.
            self.evaluate("window.scrollTo(0, 0)")
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
            params["captureBeyondViewport"] = True
        data = base64.b64decode(self.call("Page.captureScreenshot", params, timeout=30.0)["data"])
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            raise BrowserError("Page.captureScreenshot did not answer a PNG")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def close(self) -> None:
        """Hang up and close the tab; safe to repeat."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(ConnectionClosedError, OSError):
            self._socket.close(timeout=1.0)
        self._browser._close_target(self.target_id)
        if self in self._browser._pages:
            self._browser._pages.remove(self)


def _describe_value(value: dict[str, Any]) -> str:
    if "value" in value:
        return str(value["value"])
    return str(value.get("description") or value.get("unserializableValue") or value.get("type"))


def _describe_exception(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    text = exception.get("description") or details.get("text") or "an exception"
    where = urlsplit(str(details.get("url") or "")).path
    line = details.get("lineNumber")
    if where and isinstance(line, int):
        return f"{text} ({where}:{line + 1})"  # CDP counts lines from 0
    return str(text)
