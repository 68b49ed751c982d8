"""Shared tools for the reliability tests ("never silently dead").

Besides the service harness of ``tests/service/conftest.py`` (re-exported here, with its
``simulator`` and ``harnesses`` fixtures), this offers:

* :class:`PlayoutTransport`: a real Pipecat output transport that "plays" audio at real
  time, so ``BotStartedSpeakingFrame`` / ``BotStoppedSpeakingFrame`` come exactly the
  way a sound card or a WebRTC transport sends them;
* :class:`LogCapture` and the ``trace_logs`` fixture: every loguru record at TRACE level;
* :class:`ConnectionCounter`: a TCP pass-through in front of a simulator that counts
  connection attempts, refused handshakes included;
* :func:`server_errors` (what the simulator answered with ``error``) and
  :func:`wait_until` (poll a condition with a deadline).

Other reliability test modules import from here; keep these names stable.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    OutputAudioRawFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams

from pipecat_realtime_openai.testing import RealtimeSimulator, SimulatedConnection
from tests.service.conftest import (
    WAIT_S,
    Harness,
    Recorder,
    assert_client_events_official,
    frames_of,
    harnesses,
    make_service,
    silence,
    simulator,
    tone,
)

__all__ = [
    "TRUNCATION_ERROR_CODES",
    "WAIT_S",
    "ConnectionCounter",
    "Harness",
    "LogCapture",
    "PlayoutTransport",
    "Recorder",
    "assert_client_events_official",
    "counted",
    "frames_of",
    "harnesses",
    "make_service",
    "server_errors",
    "silence",
    "simulator",
    "tone",
    "trace_logs",
    "wait_until",
]

TRUNCATION_ERROR_CODES = frozenset(
    {"invalid_value", "item_truncate_invalid_item_id", "item_delete_invalid_item_id"}
)
"""Error codes the server answers a wrong ``conversation.item.truncate`` / ``delete`` with."""


# --- waiting ------------------------------------------------------------------------------


async def wait_until(
    condition: Callable[[], bool], timeout_s: float = WAIT_S, poll_s: float = 0.005
) -> None:
    """Wait until ``condition()`` is true; raise ``TimeoutError`` after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        # Polling on purpose: the conditions watched here have no event of their own.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(poll_s)


# --- what the simulator sent ---------------------------------------------------------


def server_errors(
    connections: Iterable[SimulatedConnection], codes: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The ``error`` payloads the simulator sent on these connections.

    Args:
        connections: Connections to look at (e.g. ``simulator.connections``).
        codes: Only these error codes; None for every error.
    """
    wanted = set(codes) if codes is not None else None
    found = []
    for conn in connections:
        for event in conn.server_events:
            if event.get("type") != "error":
                continue
            error = event.get("error") or {}
            if wanted is None or error.get("code") in wanted:
                found.append(error)
    return found


# --- logs ---------------------------------------------------------------------------------


class LogCapture:
    """Collects every loguru record (TRACE and up), exception text included.

    Attributes:
        lines: One formatted string per record, in order.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._sink_id: int | None = None

    def _sink(self, message: Any) -> None:
        self.lines.append(str(message))

    def start(self) -> None:
        """Add the sink (idempotent)."""
        if self._sink_id is None:
            self._sink_id = logger.add(
                self._sink,
                level="TRACE",
                format="{level} {name}:{function} {message}\n{exception}",
                backtrace=True,
                diagnose=True,  # tracebacks with local values: a leak through them counts
                catch=False,
            )

    def stop(self) -> None:
        """Remove the sink (idempotent)."""
        if self._sink_id is not None:
            logger.remove(self._sink_id)
            self._sink_id = None

    @property
    def text(self) -> str:
        """Everything captured, as one string."""
        return "".join(self.lines)

    def containing(self, needle: str) -> list[str]:
        """The captured records that contain ``needle``."""
        return [line for line in self.lines if needle in line]


@pytest.fixture
def trace_logs() -> Iterable[LogCapture]:
    """Capture every log record of the test at TRACE level."""
    capture = LogCapture()
    capture.start()
    yield capture
    capture.stop()


# --- an output transport that plays at real time ----------------------------------


class PlayoutTransport(BaseOutputTransport):
    """A Pipecat output transport whose "sound card" plays audio at real time.

    Pipecat's own output machinery does the rest: it chunks the audio, pushes
    ``BotStartedSpeakingFrame`` when the first chunk plays, ``BotStoppedSpeakingFrame``
    when a ``TTSStoppedFrame`` is reached or an interruption empties the queue. Writing a
    chunk takes as long as the chunk lasts, as a blocking audio device write does.

    Attributes:
        played_bytes: Bytes fully played since the pipeline started.
        segments: Number of speaking segments started (BotStartedSpeakingFrame count).
        speaking: Between a BotStartedSpeakingFrame and the next BotStoppedSpeakingFrame.
        passed: How many frames of each type the transport passed on, either way
            (cheaper to wait on than a recorder's whole history).
        wait_s: How long its waits wait by default before raising ``TimeoutError``.
    """

    def __init__(
        self, sample_rate: int = 24000, chunk_10ms: int = 4, wait_s: float = WAIT_S
    ) -> None:
        super().__init__(
            TransportParams(
                audio_out_enabled=True,
                audio_out_sample_rate=sample_rate,
                audio_out_10ms_chunks=chunk_10ms,
                # Two seconds of closing silence would only slow every test's shutdown.
                audio_out_end_silence_secs=0,
            )
        )
        self._rate = sample_rate
        self.wait_s = wait_s
        self.played_bytes = 0
        self.segments = 0
        self.speaking = False
        self.passed: Counter[type] = Counter()
        self._segment_base = 0
        self._chunk_started: float | None = None
        self._chunk_bytes = 0
        self._clock: float | None = None
        self._changed = asyncio.Event()

    @property
    def bytes_per_second(self) -> int:
        """Bytes of 16-bit mono audio per second at this transport's rate."""
        return self._rate * 2

    async def start(self, frame: StartFrame) -> None:
        """Start and announce readiness, as real transports do."""
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        """Play one chunk: return when it has been heard in full."""
        now = time.monotonic()
        # Back-to-back chunks play without gaps; after an underrun the clock restarts.
        start = now if self._clock is None or self._clock < now else self._clock
        duration = len(frame.audio) / self.bytes_per_second
        self._clock = start + duration
        self._chunk_started = start
        self._chunk_bytes = len(frame.audio)
        self._notify()
        await asyncio.sleep(self._clock - now)
        self.played_bytes += len(frame.audio)
        self._chunk_started = None
        self._chunk_bytes = 0
        self._notify()
        return True

    async def push_frame(
        self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM
    ) -> None:
        """Note speaking segments and frame counts on their way out."""
        self.passed[type(frame)] += 1
        if direction == FrameDirection.UPSTREAM:
            if isinstance(frame, BotStartedSpeakingFrame):
                self.segments += 1
                self.speaking = True
                self._segment_base = self.played_bytes
                self._notify()
            elif isinstance(frame, BotStoppedSpeakingFrame):
                self.speaking = False
        self._notify()
        await super().push_frame(frame, direction)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def position(self, now: float | None = None) -> float:
        """Bytes heard so far, counting the part of the chunk being played."""
        now = time.monotonic() if now is None else now
        played = float(self.played_bytes)
        if self._chunk_started is not None and now > self._chunk_started:
            elapsed = (now - self._chunk_started) * self.bytes_per_second
            played += min(float(self._chunk_bytes), elapsed)
        return played

    async def wait_passed(
        self, frame_type: type, count: int, timeout_s: float | None = None
    ) -> None:
        """Wait until ``count`` frames of exactly ``frame_type`` have passed."""
        async with asyncio.timeout(self.wait_s if timeout_s is None else timeout_s):
            while self.passed[frame_type] < count:
                await self._changed.wait()

    async def wait_quiet(self, timeout_s: float | None = None) -> None:
        """Wait until the bot is not speaking."""
        async with asyncio.timeout(self.wait_s if timeout_s is None else timeout_s):
            while self.speaking:
                await self._changed.wait()

    def segment_position(self, now: float | None = None) -> float:
        """Bytes heard in the current (or last) speaking segment."""
        return self.position(now) - self._segment_base

    async def wait_segment_position(
        self, segment: int, target_bytes: float, timeout_s: float | None = None
    ) -> bool:
        """Wait until speaking segment number ``segment`` has played ``target_bytes``.

        Returns:
            True when reached; False when the segment ended (or a later one started)
            before getting there.
        """
        async with asyncio.timeout(self.wait_s if timeout_s is None else timeout_s):
            while True:
                changed = self._changed
                if self.segments > segment:
                    return False
                if self.segments == segment:
                    position = self.segment_position()
                    if position >= target_bytes:
                        return True
                    if self._chunk_started is not None:
                        ahead = (target_bytes - position) / self.bytes_per_second
                        await asyncio.sleep(min(max(ahead, 0.0005), 0.02))
                        continue
                await changed.wait()


# --- counting connection attempts ----------------------------------------------------


@dataclass
class ConnectionCounter:
    """A TCP pass-through in front of a simulator: every connection attempt is counted.

    Counting at the TCP level sees attempts the simulator refuses during the HTTP
    handshake (401/403), which never become simulator connections.

    Attributes:
        target_port: The simulator's port.
        attempts: Connections accepted so far.
    """

    target_port: int
    attempts: int = 0
    _server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port clients should dial."""
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    def base_url(self, sim: RealtimeSimulator) -> str:
        """``sim.base_url`` rewritten to go through this counter."""
        return sim.base_url.replace(f":{sim.port}/", f":{self.port}/")

    async def start(self) -> None:
        """Listen on a free local port."""
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))


@pytest.fixture
async def counted() -> AsyncIterator[Callable[[RealtimeSimulator], Awaitable[ConnectionCounter]]]:
    """Factory: put a :class:`ConnectionCounter` in front of a started simulator."""
    counters: list[ConnectionCounter] = []

    async def factory(sim: RealtimeSimulator) -> ConnectionCounter:
        counter = ConnectionCounter(sim.port)
        await counter.start()
        counters.append(counter)
        return counter

    yield factory
    for counter in counters:
        await counter.stop()
