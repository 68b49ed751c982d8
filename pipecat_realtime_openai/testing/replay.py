"""Play the server side of a recorded session to a real WebSocket client.

:class:`RecordingReplayServer` listens on a local port and answers whatever client
connects with the recorded server frames, in recorded order, unchanged (audio
deltas were cut short when recorded and are sent as they are).

Matching rule. A recording alternates runs of client events ("gates") and runs of
server frames. The frames that open a connection (``session.created``) are sent at
once; every later run is held until its gate opens. A gate is the ordered list of
event types the recorded client sent at that point, and it opens when:

1. the client has sent them: each client event whose type is still ahead in the
   gate moves the gate on to just past it, so missing events are skipped
   (three ``conversation.item.create`` recorded, one sent, then
   ``response.create``: open);
2. the client moved on: an event whose type is not in this gate at all but is in
   the next one opens this gate, then counts toward the next (a client that
   never sends ``session.update`` and starts with ``input_audio_buffer.append``);
3. the client went quiet part-way: at least one event of the gate arrived and
   then nothing for ``idle_timeout`` seconds (audio split into fewer appends
   than recorded);
4. optionally, the client went quiet with the gate untouched for
   ``stall_timeout`` seconds (off by default: a client waiting for frames the
   recording put after its event would otherwise wait forever).

Any other client event (extra appends, a second ``session.update``, malformed
JSON) is recorded in :attr:`RecordingReplayServer.client_events` and otherwise
ignored. A recorded ``close`` closes the connection with the recorded code and
reason once the frames before it are out; the next connection plays the part of
the recording after it. Connections beyond the recorded ones are refused with
HTTP 503.

The matching is the pure :class:`ConnectionReplay`; the server only does I/O.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from loguru import logger
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from pipecat_realtime_openai.testing.local_server import LocalServerLifecycle
from pipecat_realtime_openai.testing.recordings import (
    CLOSE,
    RECEIVED,
    SENT,
    Interaction,
    Recording,
    connections,
    load_recording,
)

# Real clients may append up to 15 MiB of audio in one event.
_MAX_MESSAGE_BYTES = 16 * 2**20


@dataclass(frozen=True)
class ReplayStep:
    """A run of recorded server frames and the client events recorded before it.

    Attributes:
        expects: Client event types recorded just before the frames, in order;
            empty when the frames need no trigger (the start of a connection).
        frames: The server frames, as the JSON text to send.
        close: ``(code, reason)`` when the recording closed the connection after
            these frames.
    """

    expects: tuple[str, ...]
    frames: tuple[str, ...]
    close: tuple[int, str] | None = None


class Release(NamedTuple):
    """What to send now: frames, then possibly a close ``(code, reason)``."""

    frames: tuple[str, ...] = ()
    close: tuple[int, str] | None = None


def build_steps(interactions: Sequence[Interaction]) -> list[ReplayStep]:
    """Turn one connection's interactions into replay steps.

    Trailing client events with no server frame or close after them are dropped:
    nothing observable depends on them.

    Args:
        interactions: One connection of a recording (see
            :func:`~pipecat_realtime_openai.testing.recordings.connections`).

    Returns:
        The steps in order.
    """
    steps: list[ReplayStep] = []
    expects: list[str] = []
    frames: list[str] = []
    for direction, data in interactions:
        if direction == SENT:
            if frames:
                steps.append(ReplayStep(tuple(expects), tuple(frames)))
                expects, frames = [], []
            expects.append(data["type"])
        elif direction == RECEIVED:
            frames.append(json.dumps(data))
        elif direction == CLOSE:
            close = (int(data["code"]), str(data.get("reason") or ""))
            steps.append(ReplayStep(tuple(expects), tuple(frames), close))
            return steps
    if frames:
        steps.append(ReplayStep(tuple(expects), tuple(frames)))
    return steps


class ConnectionReplay:
    """Where one connection is in its script, and what each client event releases.

    Pure state: no sockets and no clock. The caller reports client events and
    quiet periods; see the module docstring for the matching rule.
    """

    def __init__(self, steps: Sequence[ReplayStep]) -> None:
        self._steps = list(steps)
        self._index = 0
        self._matched = 0

    @property
    def done(self) -> bool:
        """Whether every step of this connection has been released."""
        return self._index >= len(self._steps)

    @property
    def waiting_for(self) -> tuple[str, ...]:
        """Client event types the current gate still expects (empty when done)."""
        if self.done:
            return ()
        return self._steps[self._index].expects[self._matched :]

    def start(self) -> Release:
        """Release the frames that need no client event (the connection opened)."""
        if not self.done and not self._steps[self._index].expects:
            return self._open()
        return Release()

    def on_client_event(self, event_type: str | None) -> Release:
        """Take one client event into account.

        Args:
            event_type: The event's ``type``, or None for a message that was not an
                event object.

        Returns:
            The frames (and close) it released; empty when it opened no gate.
        """
        if self.done or event_type is None:
            return Release()
        expects = self._steps[self._index].expects
        if event_type in expects[self._matched :]:
            self._matched = expects.index(event_type, self._matched) + 1
            return self._open() if self._matched == len(expects) else Release()
        following = self._index + 1
        if (
            event_type not in expects
            and following < len(self._steps)
            and event_type in self._steps[following].expects
        ):
            passed = self._open()
            if passed.close is not None:
                return passed
            then = self.on_client_event(event_type)
            return Release(passed.frames + then.frames, then.close)
        return Release()

    def quiet_limit(self, idle_timeout: float, stall_timeout: float | None) -> float | None:
        """How long client silence may last before :meth:`on_quiet` is due.

        Args:
            idle_timeout: Allowed silence once the current gate has been entered.
            stall_timeout: Allowed silence while the current gate is untouched, or
                None to wait for the client indefinitely.

        Returns:
            Seconds, or None for no limit.
        """
        if self.done:
            return None
        return idle_timeout if self._matched else stall_timeout

    def on_quiet(self) -> Release:
        """Open the current gate because the client went quiet (see :meth:`quiet_limit`)."""
        return Release() if self.done else self._open()

    def describe(self) -> str:
        """Say where this connection's replay stands, for error messages."""
        if self.done:
            return "done"
        return (
            f"step {self._index + 1} of {len(self._steps)} waits for client events "
            f"{list(self.waiting_for)}"
        )

    def _open(self) -> Release:
        """Release the current step, and any following one that needs no trigger."""
        frames: list[str] = []
        while not self.done:
            step = self._steps[self._index]
            self._index += 1
            self._matched = 0
            frames.extend(step.frames)
            if step.close is not None:
                return Release(tuple(frames), step.close)
            if self.done or self._steps[self._index].expects:
                break
        return Release(tuple(frames))


class RecordingReplayServer(LocalServerLifecycle):
    """A local WebSocket server that plays the server side of a recording.

    Use it as an async context manager and point the client at :attr:`base_url`::

        async with RecordingReplayServer(load_recording(path)) as server:
            ...  # connect to f"{server.base_url}?model=gpt-realtime-2.1"
            await server.wait_until_done(timeout=5)

    Any ``model`` query parameter and any ``Authorization: Bearer`` key (or Azure
    ``api-key`` header) is accepted; a request with neither is refused with 401.

    Args:
        recording: The session to replay.
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one.
        idle_timeout: Seconds of client silence after which a partly matched
            gate opens.
        stall_timeout: Seconds of client silence after which an untouched gate
            opens; None (the default) waits for the client indefinitely.
    """

    def __init__(
        self,
        recording: Recording,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        idle_timeout: float = 0.25,
        stall_timeout: float | None = None,
    ) -> None:
        self.recording = recording
        self.client_events: list[dict[str, Any]] = []
        self.requested_models: list[str | None] = []
        self.frames_sent = 0
        self._host = host
        self._port = port
        self._idle_timeout = idle_timeout
        self._stall_timeout = stall_timeout
        self._scripts = [build_steps(part) for part in connections(recording)]
        self._replays: list[ConnectionReplay] = []
        self._server: Server | None = None
        self._done = asyncio.Event()

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> RecordingReplayServer:
        """Build a server for the recording in a YAML file (same keywords as the constructor)."""
        return cls(load_recording(path), **kwargs)

    @property
    def base_url(self) -> str:
        """The WebSocket URL to connect to, such as ``ws://127.0.0.1:PORT/v1/realtime``."""
        if self._server is None:
            raise RuntimeError("the replay server is not running: use `async with` or start()")
        host, port = self._server.sockets[0].getsockname()[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{port}/v1/realtime"

    @property
    def connections_opened(self) -> int:
        """How many client connections the server has accepted."""
        return len(self._replays)

    async def start(self) -> None:
        """Start listening."""
        self._server = await serve(
            self._serve_connection,
            self._host,
            self._port,
            process_request=self._check_request,
            max_size=_MAX_MESSAGE_BYTES,
        )
        logger.debug(f"Replaying recording {self.recording.name!r} at {self.base_url}")

    # The timeout argument is the API the brief's callers use; it also lets the
    # error say where the replay stopped, which an outer asyncio.timeout cannot.
    async def wait_until_done(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until every recorded server frame has been sent.

        Args:
            timeout: Seconds to wait.

        Raises:
            TimeoutError: Frames are still held back after ``timeout``; the message
                says which client events the replay is waiting for.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._done.wait()
        except TimeoutError:
            raise TimeoutError(
                f"replay not finished after {timeout} s: {self.describe()}"
            ) from None

    def describe(self) -> str:
        """Say where the replay stands, connection by connection."""
        parts = [f"connection {i + 1}: {r.describe()}" for i, r in enumerate(self._replays)]
        parts.append(f"{len(self._replays)} of {len(self._scripts)} recorded connections opened")
        return "; ".join(parts)

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if not url.path.endswith("/realtime"):
            return connection.respond(404, f"no Realtime endpoint at {url.path}\n")
        authorization = request.headers.get("Authorization", "")
        has_key = authorization.startswith("Bearer ") and authorization[7:].strip()
        if not has_key and not request.headers.get("api-key"):
            return connection.respond(401, "no Authorization: Bearer <key> or api-key header\n")
        if len(self._replays) >= len(self._scripts):
            return connection.respond(503, "every recorded connection has been replayed\n")
        return None

    async def _serve_connection(self, connection: ServerConnection) -> None:
        if len(self._replays) >= len(self._scripts):
            # Two handshakes raced for the last recorded connection; this one lost.
            await connection.close(1013, "every recorded connection has been replayed")
            return
        replay = ConnectionReplay(self._scripts[len(self._replays)])
        self._replays.append(replay)
        path = connection.request.path if connection.request is not None else ""
        query = parse_qs(urlsplit(path).query)
        self.requested_models.append(query.get("model", [None])[0])
        number = len(self._replays)
        logger.debug(f"Replay connection {number} opened")
        try:
            closed = await self._send(connection, replay.start())
            while not closed:
                limit = replay.quiet_limit(self._idle_timeout, self._stall_timeout)
                try:
                    message = await asyncio.wait_for(connection.recv(), limit)
                except TimeoutError:
                    release = replay.on_quiet()
                else:
                    release = replay.on_client_event(self._record(message))
                closed = await self._send(connection, release)
        except ConnectionClosed as exc:
            logger.debug(f"Replay connection {number} closed ({exc})")

    async def _send(self, connection: ServerConnection, release: Release) -> bool:
        """Send what was released; return whether the connection is now closed."""
        for frame in release.frames:
            await connection.send(frame)
            self.frames_sent += 1
        if len(self._replays) == len(self._scripts) and all(r.done for r in self._replays):
            self._done.set()
        if release.close is None:
            return False
        code, reason = release.close
        await connection.close(code, reason)
        return True

    def _record(self, message: str | bytes) -> str | None:
        """Keep a client message; return its event type (None when it is not an event)."""
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        try:
            event = json.loads(text)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            logger.warning(f"Replay got a client message that is not an event ({len(text)} chars)")
            self.client_events.append({"type": None, "raw": text})
            return None
        # Sizes only: appends carry audio, which must not reach the logs.
        logger.trace(f"Replay got client {event['type']} ({len(text)} chars)")
        self.client_events.append(event)
        return event["type"]
