"""A headless Chromium driven over the DevTools protocol, with nothing but `websockets`.

Playwright would do the same, but it brings a Node driver and wants browsers of its own;
the few commands a test needs (navigate, run a script, take a screenshot) are one JSON
request each over the page's DevTools WebSocket.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

INSTALL_HINT = "install Chromium to run it: apt-get install chromium"

# Flags that keep a headless Chromium quiet and self-contained on a machine without
# network access: no sandbox (tests run as root), no GPU, no calls home.
QUIET_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
)


def chromium_path() -> str | None:
    """Where Debian's (or any) Chromium is, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


class DevToolsError(RuntimeError):
    """A DevTools command failed, or a page script threw."""


class Page:
    """One page target of a running Chromium, spoken to over its DevTools WebSocket."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.console: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                self._dispatch(json.loads(raw))
        finally:
            # Chromium went away: whoever waits for an answer hears so now.
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(DevToolsError("the DevTools connection closed"))
            self._pending.clear()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            future = self._pending.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(message)
        elif message.get("method") == "Runtime.consoleAPICalled":
            args = message["params"].get("args", [])
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in args)
            self.console.append(f"{message['params'].get('type')}: {text}")
        elif message.get("method") == "Runtime.exceptionThrown":
            details = message["params"].get("exceptionDetails", {})
            self.console.append(f"exception: {details.get('exception', details)}")

    async def send(self, method: str, timeout_s: float = 30.0, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result.

        Raises:
            DevToolsError: When Chromium answers with an error.
        """
        command_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        await self._socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, timeout_s)
        if "error" in reply:
            raise DevToolsError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str, timeout_s: float = 30.0) -> Any:
        """Run `expression` in the page (awaiting a promise) and return its JSON value.

        Raises:
            DevToolsError: When the script throws.
        """
        result = await self.send(
            "Runtime.evaluate",
            timeout_s=timeout_s,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise DevToolsError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path) -> Path:
        """Save a PNG of the page's viewport at `path`."""
        result = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(_write, path, base64.b64decode(result["data"]))
        return path

    async def close(self) -> None:
        """Close the DevTools WebSocket."""
        self._reader.cancel()
        await self._socket.close()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class Chromium:
    """A headless Chromium process with remote debugging on a free loopback port.

    Args:
        executable: The Chromium binary.
        profile_dir: An empty folder for a throw-away profile.
        extra_flags: More command-line flags (media, WebRTC).
        log_path: Where Chromium's own output goes.
    """

    def __init__(
        self, executable: str, profile_dir: Path, extra_flags: tuple[str, ...], log_path: Path
    ) -> None:
        self._executable = executable
        self._profile_dir = profile_dir
        self._extra_flags = extra_flags
        self._log = log_path
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout_s: float = 30.0) -> None:
        """Launch Chromium and wait for its DevTools port."""
        port_file = self._profile_dir / "DevToolsActivePort"
        self.process = self._launch(port_file)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None:
                raise DevToolsError(f"Chromium exited at start-up:\n{self.log_tail()}")
            if asyncio.get_running_loop().time() > deadline:
                raise DevToolsError(f"Chromium gave no DevTools port:\n{self.log_tail()}")
            await asyncio.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])

    def _launch(self, port_file: Path) -> subprocess.Popen[bytes]:
        self._profile_dir.mkdir(parents=True, exist_ok=True)
        # A reused profile may hold the port of a Chromium that is gone.
        port_file.unlink(missing_ok=True)
        with self._log.open("wb") as log:
            return subprocess.Popen(
                [
                    self._executable,
                    *QUIET_FLAGS,
                    *self._extra_flags,
                    f"--user-data-dir={self._profile_dir}",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                    "about:blank",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own process group, so stopping it ends its renderer and GPU
                # helpers too.
                start_new_session=True,
            )

    async def open_page(self) -> Page:
        """Attach to the page Chromium opened at start-up."""
        targets = await asyncio.to_thread(self._get_json, "/json/list")
        page = next(t for t in targets if t.get("type") == "page")
        socket = await connect(page["webSocketDebuggerUrl"], max_size=None, ping_interval=None)
        return Page(socket)

    def _get_json(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as reply:
            return json.load(reply)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of Chromium's own output, for failure messages."""
        return self._log.read_text(errors="replace")[-chars:] if self._log.exists() else ""

    def stop(self) -> None:
        """End the Chromium process (and wait for it)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
