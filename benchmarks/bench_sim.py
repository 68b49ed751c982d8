"""The simulator process of the service benchmark: timestamps on the server side.

Run by ``bench_service.py`` as a separate process, so the benchmark process's CPU
clock measures only the client. It starts two `RealtimeSimulator`s (one streaming reply
audio as fast as the client reads it, one at real time) and a small JSON-lines control
port, then prints ``READY <fast_port> <realtime_port> <control_port>``.

Each WebSocket is wrapped in `TimedSocket`, which records on CLOCK_MONOTONIC (shared by
every process on Linux) when each ``response.output_audio.delta`` was handed to the
socket and when each ``input_audio_buffer.append`` arrived, with the audio size of each.
The client process compares those with its own clock to get per-chunk latency.

Replies are decided by `DurationResponder`: a user message ``seconds=<S>`` gets a reply
whose synthetic speech lasts S seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loguru import logger

from pipecat_realtime_openai.testing import RealtimeSimulator, Reply, ResponseContext
from pipecat_realtime_openai.testing import responses as sim_responses
from pipecat_realtime_openai.testing.synth import MS_PER_CHAR

AUDIO_DELTA = '"response.output_audio.delta"'
APPEND = '"input_audio_buffer.append"'
SESSION_UPDATED = '"session.updated"'
DELTA_FIELD = '"delta": "'
PCM24K_BYTES_PER_MS = 48
_SECONDS = re.compile(r"seconds=([0-9.]+)")
_WORDS = ("lorem", "ipsum", "dolor", "amet", "consectetur", "adipiscing", "elit", "sed")


def reply_text(seconds: float) -> str:
    """Words whose synthetic speech lasts `seconds` (one character = MS_PER_CHAR ms)."""
    wanted = max(1, round(seconds * 1000 / MS_PER_CHAR))
    words: list[str] = []
    length = 0
    index = 0
    while length < wanted:
        word = _WORDS[index % len(_WORDS)]
        words.append(word)
        length += len(word) + 1
        index += 1
    return " ".join(words)[:wanted]


def delta_size(message: str) -> int:
    """Audio bytes in the JSON text of an audio delta, without decoding it.

    String search instead of JSON parsing keeps this side fast, so the client stays
    the bottleneck of the fast-paced runs.
    """
    start = message.find(DELTA_FIELD)
    if start < 0:
        return len(base64.b64decode(json.loads(message)["delta"]))
    start += len(DELTA_FIELD)
    end = message.index('"', start)
    padding = (message[end - 2 : end]).count("=")
    return (end - start) * 3 // 4 - padding


class DurationResponder:
    """Replies to ``seconds=<S>`` with S seconds of speech (``default_seconds`` otherwise).

    A spoken turn has no such text: it gets the default.
    """

    def __init__(self, default_seconds: float = 1.0) -> None:
        self.default_seconds = default_seconds

    def reply(self, context: ResponseContext) -> Reply:
        match = _SECONDS.search(context.last_user_text or "")
        return Reply(text=reply_text(float(match.group(1)) if match else self.default_seconds))


@dataclass
class ConnectionRecord:
    """Server-side timestamps of one connection (CLOCK_MONOTONIC nanoseconds)."""

    index: int
    delta_sent_ns: list[int] = field(default_factory=list)
    delta_bytes: list[int] = field(default_factory=list)
    append_received_ns: list[int] = field(default_factory=list)
    append_bytes: list[int] = field(default_factory=list)
    session_updated: bool = False
    claimed: bool = False
    closed: bool = False

    @property
    def input_ms(self) -> float:
        return sum(self.append_bytes) / PCM24K_BYTES_PER_MS

    def report(self) -> dict[str, Any]:
        return {
            "delta_sent_ns": self.delta_sent_ns,
            "delta_bytes": self.delta_bytes,
            "append_received_ns": self.append_received_ns,
            "append_bytes": self.append_bytes,
        }


class Registry:
    """Every connection's record, plus a signal for waiters when any of them changes."""

    def __init__(self) -> None:
        self.records: dict[int, ConnectionRecord] = {}
        self._changed = asyncio.Event()

    def new(self) -> ConnectionRecord:
        record = ConnectionRecord(len(self.records) + 1)
        self.records[record.index] = record
        return record

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        await self._changed.wait()


class TimedSocket:
    """A `ServerConnection` stand-in that timestamps audio deltas and appends.

    Everything else is delegated, so the simulator cannot tell the difference.
    """

    def __init__(self, websocket: Any, record: ConnectionRecord, registry: Registry) -> None:
        self._ws = websocket
        self._record = record
        self._registry = registry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)

    async def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            if AUDIO_DELTA in message:
                # Taken before the send: the delta leaves as soon as the socket accepts it.
                self._record.delta_sent_ns.append(time.monotonic_ns())
                self._record.delta_bytes.append(delta_size(message))
            elif SESSION_UPDATED in message and json.loads(message)["type"] == "session.updated":
                await self._ws.send(message)
                self._record.session_updated = True
                self._registry.notify()
                return
        await self._ws.send(message)

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[str | bytes]:
        async for frame in self._ws:
            if isinstance(frame, str) and APPEND in frame:
                received = time.monotonic_ns()
                data = json.loads(frame)
                if data.get("type") == "input_audio_buffer.append":
                    self._record.append_received_ns.append(received)
                    self._record.append_bytes.append(len(base64.b64decode(data["audio"])))
                    self._registry.notify()
            yield frame


class TimedSimulator(RealtimeSimulator):
    """`RealtimeSimulator` whose connections go through `TimedSocket`.

    Args:
        registry: Where connection records go.
        compression: Accept permessage-deflate when a client offers it.
        **kwargs: Passed to `RealtimeSimulator`.
    """

    def __init__(self, registry: Registry, compression: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._registry = registry
        self._compression = compression

    def _check_request(self, connection: Any, request: Any) -> Any:
        if not self._compression and "Sec-WebSocket-Extensions" in request.headers:
            # Without an offer the handshake negotiates no compression.
            del request.headers["Sec-WebSocket-Extensions"]
        return super()._check_request(connection, request)

    async def _handle(self, websocket: Any) -> None:
        record = self._registry.new()
        try:
            await super()._handle(TimedSocket(websocket, record, self._registry))
        finally:
            record.closed = True
            self._registry.notify()
            # A closed connection keeps every event it exchanged (hundreds of MB over a
            # run); nothing here reads them afterwards.
            self.connections = [c for c in self.connections if not c.closed.is_set()]


class Control:
    """Answers the benchmark's JSON-lines requests about the connections."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                request = json.loads(line)
                try:
                    async with asyncio.timeout(request.get("timeout", 30.0)):
                        answer = await self._answer(request)
                except TimeoutError:
                    answer = {"error": f"timed out: {request.get('op')}"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "claim":
            return {"conn": (await self._claim()).index}
        record = self._registry.records[request["conn"]]
        if op == "wait_input":
            return await self._wait_input(record, request["ms"], request["quiet_s"])
        if op == "report":
            del self._registry.records[record.index]
            return record.report() if request.get("timestamps", True) else {}
        raise ValueError(f"unknown op {op!r}")

    async def _claim(self) -> ConnectionRecord:
        """The oldest unclaimed connection whose session was configured."""
        while True:
            for record in self._registry.records.values():
                if not record.claimed and record.session_updated and not record.closed:
                    record.claimed = True
                    return record
            await self._registry.changed()

    async def _wait_input(
        self, record: ConnectionRecord, target_ms: float, quiet_s: float
    ) -> dict[str, Any]:
        """Until `target_ms` of input arrived, or none arrived for `quiet_s`."""
        while record.input_ms < target_ms:
            count = len(record.append_bytes)
            try:
                async with asyncio.timeout(quiet_s):
                    while len(record.append_bytes) == count:
                        await self._registry.changed()
            except TimeoutError:
                if count:
                    break
        return {"received_ms": record.input_ms, "appends": len(record.append_bytes)}


async def serve(
    chunk_ms: int, compression: bool, forever: bool, default_reply_seconds: float = 1.0
) -> None:
    # The simulator reads its delta size from this module constant.
    sim_responses.AUDIO_CHUNK_MS = chunk_ms
    registry = Registry()
    responder = DurationResponder(default_reply_seconds)
    common = {"responder": responder, "compression": compression}
    fast = TimedSimulator(registry, pace="fast", **common)
    realtime = TimedSimulator(registry, pace="realtime", **common)
    control = await asyncio.start_server(Control(registry).handle, "127.0.0.1", 0)
    async with fast, realtime, control:
        control_port = control.sockets[0].getsockname()[1]
        print(f"READY {fast.port} {realtime.port} {control_port}", flush=True)
        if forever:
            await asyncio.Future()
        # Ends when the benchmark closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-ms", type=int, default=20, help="reply audio per delta")
    parser.add_argument(
        "--compression",
        choices=("none", "deflate"),
        default="none",
        help="permessage-deflate when a client offers it (default none)",
    )
    parser.add_argument(
        "--default-reply-seconds",
        type=float,
        default=1.0,
        help="reply length of a turn that names none, e.g. a spoken one (1)",
    )
    parser.add_argument(
        "--serve-forever",
        action="store_true",
        help="run until interrupted (default: until stdin closes, as bench_service.py does)",
    )
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    try:
        asyncio.run(
            serve(
                args.chunk_ms,
                args.compression == "deflate",
                args.serve_forever,
                args.default_reply_seconds,
            )
        )
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
