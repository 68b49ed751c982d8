"""Pipeline pieces of the service benchmark: the services, the sink, the input audio.

`FloorService` stands in for a service that costs nothing: it moves the same frames
through the pipeline without any WebSocket, JSON or audio work, so its CPU is the
floor that Pipecat's frame handling alone costs; a service's own cost is what it
spends above that. `WireFloorService` adds what no client of the same server can
avoid on the output path: receiving every WebSocket message of the reply. It reads them
with the same WebSocket library as both services, without parsing JSON or decoding
audio, and pushes one frame per audio delta.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

INPUT_RATE = 16000
OUTPUT_RATE = 24000
FRAME_MS = 20
_SECONDS = re.compile(r"seconds=([0-9.]+)")


def make_service(
    kind: str,
    url: str,
    chunk_ms: int,
    realtime: bool,
    server_vad: bool = False,
    turn_audio: bool = True,
) -> FrameProcessor:
    """The service under test, server turn detection off (no automatic replies).

    Args:
        kind: ``ours``, ``builtin`` (Pipecat's), ``floor`` (`FloorService`) or ``wire``
            (`WireFloorService`).
        url: Simulator base URL.
        chunk_ms: Reply audio per frame, for the floor.
        realtime: Whether the floor paces its reply at real time.
        server_vad: Keep the server's turn detection (spoken turns get replies).
        turn_audio: Ours only: keep spoken turns' audio for restores (the default);
            False sets ``ReconnectOptions(max_turn_audio_secs=0)``.
    """
    if kind == "floor":
        return FloorService(chunk_ms, realtime)
    if kind == "wire":
        return WireFloorService(url)
    if kind == "ours":
        from pipecat_realtime_openai import OpenAIRealtimeLLMService, events
    else:
        from pipecat.services.openai.realtime import events
        from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
    if server_vad:
        session = events.SessionProperties()
    else:
        audio = events.AudioConfiguration(input=events.AudioInput(turn_detection=False))
        session = events.SessionProperties(audio=audio)
    settings = OpenAIRealtimeLLMService.Settings(session_properties=session)
    extra: dict[str, Any] = {}
    if not turn_audio:
        from pipecat_realtime_openai import ReconnectOptions

        extra["reconnect"] = ReconnectOptions(max_turn_audio_secs=0)
    return OpenAIRealtimeLLMService(api_key="sk-bench", base_url=url, settings=settings, **extra)


def input_frames(seconds: float) -> list[InputAudioRawFrame]:
    """Speech-level noise, 16 kHz mono, in 20 ms frames (built before any timing)."""
    rng = np.random.default_rng(7)
    step = INPUT_RATE * FRAME_MS // 1000
    count = int(seconds * 1000 / FRAME_MS)
    audio = (rng.standard_normal(step * count) * 3000).clip(-32768, 32767).astype("<i2")
    return [
        InputAudioRawFrame(
            audio=audio[i * step : (i + 1) * step].tobytes(),
            sample_rate=INPUT_RATE,
            num_channels=1,
        )
        for i in range(count)
    ]


async def push_paced(
    worker: Any, frames: list[Frame], on_push: Callable[[], None] | None = None
) -> None:
    """Queue `frames` into a pipeline worker one every `FRAME_MS`, as a transport would.

    Args:
        worker: The ``PipelineWorker``.
        frames: The frames, each `FRAME_MS` of audio.
        on_push: Called just before each frame is queued (to timestamp it).
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index, frame in enumerate(frames):
        delay = start + index * FRAME_MS / 1000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if on_push is not None:
            on_push()
        await worker.queue_frame(frame)


class FloorService(FrameProcessor):
    """No service: the frames a Realtime service would push, with none of its work.

    A context frame ``seconds=<S>`` makes it push S seconds of silent bot audio in
    ``chunk_ms`` frames between the usual start/end frames, yielding to the event
    loop between frames as a WebSocket receive loop does (or sleeping until each
    frame is due, at real-time pace). Input audio frames are counted and passed on.

    Args:
        chunk_ms: Audio per reply frame.
        realtime: Pace the reply at real time.
    """

    def __init__(self, chunk_ms: int, realtime: bool) -> None:
        super().__init__()
        self._chunk_ms = chunk_ms
        self._realtime = realtime
        self._input_count = 0
        self._input_changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            text = json.dumps(frame.context.get_messages())
            match = _SECONDS.search(text)
            self.create_task(self._reply(float(match.group(1)) if match else 1.0))
            return
        if isinstance(frame, InputAudioRawFrame):
            self._input_count += 1
            self._input_changed.set()
        await self.push_frame(frame, direction)

    async def wait_for_input(self, count: int) -> None:
        """Until `count` input audio frames went through."""
        while self._input_count < count:
            self._input_changed.clear()
            await self._input_changed.wait()

    async def _reply(self, seconds: float) -> None:
        audio = bytes(OUTPUT_RATE * 2 * self._chunk_ms // 1000)
        await self.push_frame(LLMFullResponseStartFrame())
        await self.push_frame(TTSStartedFrame())
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index in range(round(seconds * 1000 / self._chunk_ms)):
            due = start + index * self._chunk_ms / 1000 - loop.time()
            await asyncio.sleep(due if self._realtime and due > 0 else 0)
            await self.push_frame(
                TTSAudioRawFrame(audio=audio, sample_rate=OUTPUT_RATE, num_channels=1)
            )
        await self.push_frame(TTSStoppedFrame())
        await self.push_frame(LLMFullResponseEndFrame())


class WireFloorService(FloorService):
    """`FloorService` that also receives the reply over the simulator's WebSocket.

    It configures a session (server turn detection off) when the pipeline starts; a
    context frame ``seconds=<S>`` asks the simulator for that reply, and every
    ``response.output_audio.delta`` message becomes one frame of silence of its size
    (found by string search: no JSON parsing, no base64 decoding).

    Args:
        url: Simulator base URL (without the model query).
    """

    def __init__(self, url: str) -> None:
        super().__init__(chunk_ms=FRAME_MS, realtime=False)
        self._url = url
        self._ws: Any = None
        self._reader: asyncio.Task | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, StartFrame):
            await FrameProcessor.process_frame(self, frame, direction)
            await self._connect()
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, LLMContextFrame):
            await FrameProcessor.process_frame(self, frame, direction)
            match = _SECONDS.search(json.dumps(frame.context.get_messages()))
            await self._request(float(match.group(1)) if match else 1.0)
            return
        if isinstance(frame, EndFrame | CancelFrame) and self._ws is not None:
            await self._ws.close()
            if self._reader is not None:
                await self.cancel_task(self._reader)
        await super().process_frame(frame, direction)

    async def _connect(self) -> None:
        from websockets.asyncio.client import connect

        self._ws = await connect(
            f"{self._url}?model=gpt-realtime",
            additional_headers={"Authorization": "Bearer sk-bench"},
            compression=None,
            max_size=None,
        )
        await self._ws.recv()  # session.created
        update = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        await self._ws.send(json.dumps({"type": "session.update", "session": update}))
        while '"session.updated"' not in await self._ws.recv():
            pass
        self._reader = self.create_task(self._receive())

    async def _request(self, seconds: float) -> None:
        content = [{"type": "input_text", "text": f"seconds={seconds}"}]
        item = {"type": "message", "role": "user", "content": content}
        await self._ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await self._ws.send(json.dumps({"type": "response.create"}))

    async def _receive(self) -> None:
        from benchmarks.bench_sim import delta_size

        started = False
        async for message in self._ws:
            if '"response.output_audio.delta"' in message:
                if not started:
                    started = True
                    await self.push_frame(LLMFullResponseStartFrame())
                    await self.push_frame(TTSStartedFrame())
                audio = bytes(delta_size(message))
                await self.push_frame(
                    TTSAudioRawFrame(audio=audio, sample_rate=OUTPUT_RATE, num_channels=1)
                )
            elif '"response.done"' in message and started:
                started = False
                await self.push_frame(TTSStoppedFrame())
                await self.push_frame(LLMFullResponseEndFrame())


class AudioSink(FrameProcessor):
    """End of the pipeline: counts bot audio, timestamps it, notices the response end.

    Args:
        keep_arrivals: Keep the arrival time and duration of every audio frame.
    """

    def __init__(self, keep_arrivals: bool) -> None:
        super().__init__(enable_direct_mode=True)
        self._keep = keep_arrivals
        self.first_cpu: float | None = None
        self.first_wall = 0.0
        self.end_cpu = 0.0
        self.end_wall = 0.0
        self.audio_ms = 0.0
        self.audio_frames = 0
        self.arrived_ns: list[int] = []
        self.arrived_ms: list[float] = []
        self.done = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            now = time.monotonic_ns()
            if self.first_cpu is None:
                self.first_cpu = time.process_time()
                self.first_wall = time.monotonic()
            ms = len(frame.audio) * 1000 / (frame.sample_rate * 2 * frame.num_channels)
            self.audio_ms += ms
            self.audio_frames += 1
            if self._keep:
                self.arrived_ns.append(now)
                self.arrived_ms.append(ms)
        elif isinstance(frame, LLMFullResponseEndFrame) and self.first_cpu is not None:
            self.end_cpu = time.process_time()
            self.end_wall = time.monotonic()
            self.done.set()
        await self.push_frame(frame, direction)


class Control:
    """Client of the simulator process's control port (JSON lines)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> Control:
        # Latency reports carry thousands of timestamps on one line.
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=64 * 1024 * 1024)
        return cls(reader, writer)

    async def close(self) -> None:
        """Close the control connection (before the simulator process is stopped)."""
        self._writer.close()
        await self._writer.wait_closed()

    async def call(self, **request: Any) -> dict[str, Any]:
        """Send one request and return the answer; raise if the simulator reports an error."""
        request.setdefault("timeout", 120.0)
        self._writer.write(json.dumps(request).encode() + b"\n")
        await self._writer.drain()
        answer = json.loads(await self._reader.readline())
        if "error" in answer:
            raise RuntimeError(f"simulator: {answer['error']}")
        return answer
