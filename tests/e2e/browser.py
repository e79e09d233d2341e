"""Debian's Chromium under Playwright (sync API) for the browser tests.

Playwright drives the browser; this module only says which binary to run and with
which flags, and keeps what a page did that a user would call broken. No browser is
ever downloaded (`playwright install` is never run): the binary is Debian's `chromium`
(or `chromium-headless-shell`), which `make test` installs with apt when it is missing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Final

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    Request,
    Response,
    ViewportSize,
    WebSocket,
)

#: Where the browser is looked for on PATH, in order, when FROLIC_CHROMIUM is not set.
CANDIDATES: Final = ("chromium", "chromium-headless-shell")
ENV_BINARY: Final = "FROLIC_CHROMIUM"
INSTALL_HINT: Final = (
    "Install Debian's Chromium with `sudo apt-get install -y chromium` "
    "(`make test` does it when it is missing), or point FROLIC_CHROMIUM at a Chromium binary."
)
#: A closed machine, as root: no sandbox (it needs a user namespace), no GPU, and no
#: request past loopback (updates, sync, field trials, a proxy from the environment).
#: /dev/shm is tiny in containers.
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
    "--no-default-browser-check",
    "--mute-audio",
)
VIEWPORT: Final[ViewportSize] = {"width": 1280, "height": 900}
#: Chromium's wording for a response of 400 or more; `PageWatch` records those from the
#: responses themselves, apart from the page's own errors.
NETWORK_CONSOLE_PREFIX: Final = "Failed to load resource:"
FAVICON_PATH: Final = "/favicon.svg"
ABORTED: Final = "net::ERR_ABORTED"


class ChromiumNotFoundError(AssertionError):
    """No Chromium binary: the message says how to install one. An AssertionError, so
    the browser tests fail (never skip) when the browser is missing."""


def find_chromium() -> str:
    """The Chromium binary to run: FROLIC_CHROMIUM when set (a name on PATH or a path),
    else the first of CANDIDATES on PATH."""
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
        f"No Chromium for the browser tests: looked for {', '.join(CANDIDATES)} on PATH. "
        + INSTALL_HINT
    )


def launch_chromium(playwright: Playwright, binary: str) -> Browser:
    """Headless Chromium from `binary`, never Playwright's own build."""
    return playwright.chromium.launch(
        executable_path=binary, headless=True, args=list(CHROMIUM_ARGS)
    )


@dataclass
class PageWatch:
    """What one page did, gathered from Playwright's events.

    `errors` is what makes a page broken for a user: uncaught exceptions,
    console.error/console.assert (a CSP violation is logged there too), a dialog (the
    pages use none; it is dismissed) and a crash. Failed requests and responses of 400
    or more are kept apart in `network_errors`: a 404 can be part of a page's protocol
    (the player page polls for a play that may not be stored yet).
    """

    errors: list[str] = field(default_factory=list)
    network_errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    sockets: list[WebSocket] = field(default_factory=list)
    frames_sent: list[str] = field(default_factory=list)
    frames_received: list[str] = field(default_factory=list)

    @classmethod
    def on(cls, page: Page) -> PageWatch:
        watch = cls()
        page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))
        page.on("console", watch._on_console)
        page.on("dialog", watch._on_dialog)
        page.on("crash", lambda _: watch.errors.append("the page crashed"))
        page.on("request", lambda request: watch.requested.append(request.url))
        page.on("requestfailed", watch._on_request_failed)
        page.on("response", watch._on_response)
        page.on("websocket", watch._on_websocket)
        return watch

    def _on_console(self, message: ConsoleMessage) -> None:
        self.console.append(message.text)
        if message.type in ("error", "assert") and not message.text.startswith(
            NETWORK_CONSOLE_PREFIX
        ):
            self.errors.append(f"console.{message.type}: {message.text}")

    def _on_dialog(self, dialog: Dialog) -> None:
        self.errors.append(f"dialog: {dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _on_request_failed(self, request: Request) -> None:
        # Chromium cancels the icon's fetch when the page moves on before it lands: a
        # browser's choice, not a failure of the site (seen once in a clean-clone run).
        if request.url.endswith(FAVICON_PATH) and request.failure == ABORTED:
            return
        self.network_errors.append(f"{request.method} {request.url}: {request.failure}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.network_errors.append(
                f"{response.request.method} {response.url}: {response.status}"
            )

    def _on_websocket(self, socket: WebSocket) -> None:
        self.sockets.append(socket)
        self.requested.append(socket.url)
        socket.on("framesent", lambda payload: self.frames_sent.append(_text(payload)))
        socket.on("framereceived", lambda payload: self.frames_received.append(_text(payload)))


def _text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode(errors="replace")
