"""The output hot path's shortcuts keep Pipecat's contract: TTFB per response, the gate."""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    LLMContextFrame,
    LLMFullResponseEndFrame,
    MetricsFrame,
    TTSAudioRawFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.turns.speculation_gate import SpeculationState

from tests.service.conftest import make_service


def ask(text: str, speculation: bool = False) -> LLMContextFrame:
    messages = [{"role": "user", "content": text}]
    return LLMContextFrame(context=LLMContext(messages=messages), speculation=speculation)


def ttfb_values(frames) -> list[float]:
    return [
        d.value
        for f in frames
        if isinstance(f, MetricsFrame)
        for d in f.data
        if isinstance(d, TTFBMetricsData)
    ]


async def test_each_response_reports_one_ttfb(simulator, harnesses):
    # The first audio chunk ends the measurement; the many chunks after it must not
    # report again, and the next response must report its own.
    harness = harnesses(make_service(simulator))
    await harness.start()
    await harness.send(ask("one"))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.send(ask("two"))
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    chunks = [
        e
        for e in simulator.connections[0].server_events
        if e["type"] == "response.output_audio.delta"
    ]
    assert len(chunks) > 2
    # Pipecat reports a zero TTFB when the pipeline starts; the responses' are measured.
    measured = [value for value in ttfb_values(harness.down.frames) if value > 0]
    assert len(measured) == 2


async def test_audio_waits_while_the_speculation_gate_holds(simulator, harnesses):
    # Audio skips LLMService.push_frame only while its gate is open; a held speculative
    # response keeps its audio until the turn is confirmed.
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    # An eager end of turn: the inference runs before the turn is confirmed.
    await harness.send(ask("maybe", speculation=True))
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("response.done")
    await asyncio.sleep(0.2)
    assert service._speculation_gate.state is SpeculationState.HOLDING
    assert not harness.down.of(TTSAudioRawFrame)
    await harness.send(UserStoppedSpeakingFrame())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    played = b"".join(f.audio for f in harness.down.of(TTSAudioRawFrame))
    assert played


class SlowConnection:
    """Stands in for a connection: each send waits until the test lets it through."""

    is_open = True

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.gate = asyncio.Event()

    async def send(self, text: str) -> None:
        await self.gate.wait()
        self.sent.append(text)


async def test_audio_converted_outside_the_lock_keeps_its_place():
    # A frame converts before taking the lock only when no one holds or waits for it;
    # otherwise its audio would overtake a commit that was taken from the core first.
    from pipecat_realtime_openai.service.wire import Wire

    async def report(message: str, exc: Exception) -> None:
        raise AssertionError(message)

    wire = Wire("test", report)
    conn = SlowConnection()
    wire.conn = conn  # type: ignore[assignment]
    assert wire.audio_senders == 0
    first = asyncio.create_task(wire.send_input_audio(lambda: ["audio 1", "commit"]))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(wire.send_input_audio(lambda: ["audio 2"]))
    await asyncio.sleep(0)
    assert wire.audio_senders == 2  # one sending, one waiting: a frame must queue too
    conn.gate.set()
    await asyncio.gather(first, waiting)
    assert wire.audio_senders == 0
    await wire.send_input_audio(lambda: ["audio 3"])
    assert conn.sent == ["audio 1", "commit", "audio 2", "audio 3"]
    assert wire.audio_senders == 0
