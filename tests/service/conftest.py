"""Fixtures for the service tests: a simulator, a pipeline harness, schema checks.

Every test that uses the ``simulator`` fixture has every client event the service sent
checked against the official ``openai`` GA types when the test ends.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
import pytest
from pipecat.frames.frames import EndFrame, Frame, StartFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from pipecat_realtime_openai.protocol.official import official_client_event_error
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import RealtimeSimulator

WAIT_S = 5.0


class Recorder(FrameProcessor):
    """Records the frames that travel one way past it and lets tests wait for them."""

    def __init__(self, direction: FrameDirection) -> None:
        super().__init__(enable_direct_mode=True)
        self._direction = direction
        self.frames: list[Frame] = []
        self._changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == self._direction and not isinstance(frame, StartFrame | EndFrame):
            self.frames.append(frame)
            self._changed.set()
        await self.push_frame(frame, direction)

    def of(self, *types: type) -> list[Frame]:
        return [f for f in self.frames if isinstance(f, types)]

    async def wait_for(self, frame_type: type, count: int = 1, timeout_s: float = WAIT_S) -> Frame:
        async with asyncio.timeout(timeout_s):
            while True:
                found = self.of(frame_type)
                if len(found) >= count:
                    return found[count - 1]
                self._changed.clear()
                await self._changed.wait()


class Harness:
    """Runs ``[up-recorder, processors..., down-recorder]`` in a real pipeline worker."""

    def __init__(
        self,
        *processors: FrameProcessor,
        observers: list[Any] | None = None,
        params: PipelineParams | None = None,
    ) -> None:
        self.up = Recorder(FrameDirection.UPSTREAM)
        self.down = Recorder(FrameDirection.DOWNSTREAM)
        self.worker = PipelineWorker(
            Pipeline([self.up, *processors, self.down]),
            params=params or PipelineParams(enable_metrics=True, enable_usage_metrics=True),
            observers=observers or [],
            cancel_on_idle_timeout=False,
            enable_rtvi=False,
        )
        self._runner = WorkerRunner()
        self._run_task: asyncio.Task | None = None

    @property
    def run_task(self) -> asyncio.Task | None:
        """The task running the pipeline, once started."""
        return self._run_task

    async def start(self) -> None:
        started = asyncio.Event()

        @self.worker.event_handler("on_pipeline_started")
        async def _started(worker: Any, frame: Any) -> None:
            started.set()

        await self._runner.add_workers(self.worker)
        self._run_task = asyncio.create_task(self._runner.run())
        async with asyncio.timeout(WAIT_S):
            await started.wait()

    async def send(self, *frames: Frame, upstream: bool = False) -> None:
        direction = FrameDirection.UPSTREAM if upstream else FrameDirection.DOWNSTREAM
        for frame in frames:
            await self.worker.queue_frame(frame, direction)

    async def stop(self) -> None:
        if self._run_task is None:
            return
        await self.worker.queue_frame(EndFrame())
        async with asyncio.timeout(WAIT_S):
            await self._run_task
        self._run_task = None

    async def abort(self) -> None:
        """Cancel the pipeline if it is still running (cleanup after a failed test)."""
        task = self._run_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def assert_client_events_official(simulator: RealtimeSimulator) -> None:
    problems = []
    for conn in simulator.connections:
        for event in conn.client_events:
            if not isinstance(event, dict):
                problems.append(f"undecodable client event: {event!r}")
                continue
            error = official_client_event_error(event)
            if error:
                problems.append(error)
    assert not problems, "client events rejected by the official schema:\n" + "\n".join(problems)


@pytest.fixture
async def simulator() -> AsyncIterator[RealtimeSimulator]:
    async with RealtimeSimulator() as sim:
        yield sim
        assert_client_events_official(sim)


def make_service(sim: RealtimeSimulator, **kwargs: Any) -> OpenAIRealtimeLLMService:
    return OpenAIRealtimeLLMService(api_key="sk-test", base_url=sim.base_url, **kwargs)


@pytest.fixture
async def harnesses() -> AsyncIterator[Callable[..., Harness]]:
    """Factory of harnesses; any still running when the test ends is stopped."""
    created: list[Harness] = []

    def factory(
        *processors: FrameProcessor,
        observers: list[Any] | None = None,
        params: PipelineParams | None = None,
    ) -> Harness:
        harness = Harness(*processors, observers=observers, params=params)
        created.append(harness)
        return harness

    yield factory
    for harness in created:
        await harness.abort()


def tone(duration_ms: int, rate: int = 24000, channels: int = 1, amplitude: int = 8000) -> bytes:
    """A 440 Hz tone: loud enough for the simulator's energy VAD to call it speech."""
    n = rate * duration_ms // 1000
    t = np.arange(n) / rate
    mono = (amplitude * np.sin(2 * math.pi * 440 * t)).astype("<i2")
    if channels == 1:
        return mono.tobytes()
    return np.repeat(mono, channels).astype("<i2").tobytes()


def silence(duration_ms: int, rate: int = 24000, channels: int = 1) -> bytes:
    return bytes(rate * duration_ms // 1000 * 2 * channels)


def frames_of(audio: bytes, rate: int, channels: int = 1, frame_ms: int = 20) -> Sequence[bytes]:
    step = rate * frame_ms // 1000 * 2 * channels
    return [audio[i : i + step] for i in range(0, len(audio), step)]


async def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    """Wait until ``condition()`` holds (state of the service that no frame announces)."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - polled state has no event to wait on
            await asyncio.sleep(0.01)
