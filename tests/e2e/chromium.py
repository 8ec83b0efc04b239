"""Headless Chromium driven over the Chrome DevTools protocol, with the standard library only.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol messages (JSON, each ended
by a NUL byte) from its file descriptor 3 and writes answers and events to its descriptor 4. No
WebDriver, no browser download: Debian's ``chromium`` package is all it needs.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

# What a sandboxed machine with a closed network needs: no GPU, no QUIC, none of Chromium's own traffic.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]


def find_chromium() -> str | None:
    """The Chromium binary on PATH (Debian's ``chromium`` package installs /usr/bin/chromium), if any."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    """Chromium answered a protocol call with an error, or a page script threw."""


class Chromium:
    """One running browser: open pages and evaluate scripts in them."""

    def __init__(self, process: "subprocess.Popen[bytes]", to_browser: int, from_browser: int) -> None:
        self.process = process
        self._out = os.fdopen(to_browser, "wb", buffering=0)
        self._in = os.fdopen(from_browser, "rb", buffering=0)
        self._buffer = b""
        self._next_id = 0

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Send one protocol command and return its result (events that arrive meanwhile are dropped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = self._in.read(65536)
            if not chunk:
                raise BrowserError(f"Chromium closed its protocol pipe (exit status {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def open(self, url: str) -> "Page":
        """A new tab showing ``url``, attached so that scripts can run in it."""
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return Page(self, session)


class Page:
    """One tab."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def evaluate(self, expression: str, timeout_ms: int = 30_000) -> Any:
        """The value of ``expression`` (awaited when it is a promise), as JSON; a thrown error raises."""
        result = self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True, "timeout": timeout_ms},
            self.session,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")


@contextmanager
def launch(binary: str, log_path: Path) -> Iterator[Chromium]:
    """Chromium in a new empty profile, its stderr in ``log_path``; stopped (with its children) on exit."""
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()
    with tempfile.TemporaryDirectory(prefix="beacon-chromium-") as profile, log_path.open("wb") as log:
        # bash puts the pipe ends on descriptors 3 and 4, where --remote-debugging-pipe expects them.
        process = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_browser_read} 4>&{from_browser_write}', "chromium", binary, *FLAGS,
             f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(to_browser_read, from_browser_write),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )  # fmt: skip
        os.close(to_browser_read)
        os.close(from_browser_write)
        browser = Chromium(process, to_browser_write, from_browser_read)
        try:
            yield browser
        finally:
            with suppress(BrowserError, OSError):
                browser.call("Browser.close")
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # a renderer or zygote the browser left behind
            browser._out.close()
            browser._in.close()
