"""User audio: any rate or channel count in, exact duration out, held until ready."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.processors.frame_processor import FrameDirection

from pipecat_realtime_openai import events
from pipecat_realtime_openai.connection import RealtimeConnection
from pipecat_realtime_openai.core.phase import Phase
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from tests.service.conftest import frames_of, make_service, silence, tone

QUIET_SESSION = OpenAIRealtimeLLMService.Settings(
    # No turn detection: the appended audio stays in the buffer, nothing answers.
    session_properties=events.SessionProperties(
        audio=events.AudioConfiguration(input=events.AudioInput(turn_detection=False))
    )
)


def appended_bytes(conn) -> int:
    return sum(
        len(base64.b64decode(e["audio"]))
        for e in conn.client_events
        if e.get("type") == "input_audio_buffer.append"
    )


async def wait_appended(conn, expected: int, timeout_s: float = 5.0) -> int:
    """Wait, append by append, until at least ``expected`` bytes were appended."""
    count = 1
    async with asyncio.timeout(timeout_s):
        while appended_bytes(conn) < expected:
            await conn.wait_for_client_event("input_audio_buffer.append", count=count)
            count += 1
    return appended_bytes(conn)


def audio_frames(audio: bytes, rate: int, channels: int = 1) -> list[InputAudioRawFrame]:
    return [
        InputAudioRawFrame(audio=chunk, sample_rate=rate, num_channels=channels)
        for chunk in frames_of(audio, rate, channels)
    ]


@pytest.mark.parametrize(
    ("rate", "channels"),
    [(8000, 1), (16000, 1), (24000, 1), (44100, 1), (48000, 1), (48000, 2), (16000, 2)],
)
async def test_duration_sent_equals_duration_received(simulator, harnesses, rate, channels):
    service = make_service(simulator, settings=QUIET_SESSION)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_client_event("session.update")
    duration_ms = 1230  # not a multiple of the batch: the tail must be flushed
    audio = tone(duration_ms, rate, channels)
    await harness.send(*audio_frames(audio, rate, channels))
    # 24 kHz, 16-bit: 48 bytes per ms. The pause flush sends the held-back tail.
    expected = duration_ms * 48
    got = await wait_appended(conn, expected)
    await asyncio.sleep(0.1)  # a late duplicate flush would show up here
    assert appended_bytes(conn) == got
    assert abs(got - expected) <= 2 * 2  # at most a couple of samples of rounding
    await harness.stop()


async def test_each_pause_flushes_the_held_back_audio(simulator, harnesses):
    service = make_service(simulator, settings=QUIET_SESSION, audio_batch_ms=100)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_client_event("session.update")
    for burst in range(1, 4):
        await harness.send(*audio_frames(tone(130, 16000), 16000))
        # Without the pause flush only whole 100 ms batches would be sent.
        await wait_appended(conn, burst * 130 * 48 - 4)
    await harness.stop()


async def test_audio_is_held_until_the_session_is_configured(simulator, harnesses, monkeypatch):
    simulator.faults.latency_seconds = 0.3  # session.created and .updated arrive late
    service = make_service(simulator, settings=QUIET_SESSION)
    sent_when: list[tuple[str, bool]] = []
    original_send = RealtimeConnection.send

    async def recording_send(self, text: str) -> None:
        sent_when.append((json.loads(text)["type"], service.core.phase is Phase.READY))
        await original_send(self, text)

    monkeypatch.setattr(RealtimeConnection, "send", recording_send)
    harness = harnesses(service)
    await harness.start()
    await harness.send(*audio_frames(silence(500, 16000), 16000))
    conn = await simulator.wait_for_connection()
    await conn.wait_for_client_event("session.update")
    simulator.faults.latency_seconds = 0.0  # the latency only had to delay the start
    await wait_appended(conn, 500 * 48 - 4)
    appends = [ready for kind, ready in sent_when if kind == "input_audio_buffer.append"]
    assert appends and all(appends), "audio was sent before session.updated"
    assert sent_when[0] == ("session.update", False)
    await harness.stop()


async def test_pending_audio_is_bounded(simulator, harnesses):
    simulator.faults.latency_seconds = 0.3
    service = make_service(simulator, settings=QUIET_SESSION, max_pending_audio_secs=0.2)
    harness = harnesses(service)
    await harness.start()
    await harness.send(*audio_frames(silence(1000, 24000), 24000))
    conn = await simulator.wait_for_connection()
    await conn.wait_for_client_event("session.update")
    simulator.faults.latency_seconds = 0.0
    await conn.wait_for_client_event("input_audio_buffer.append")
    await asyncio.sleep(0.2)
    assert appended_bytes(conn) <= 240 * 48  # 200 ms kept, plus at most one batch
    await harness.stop()


async def test_paused_input_sends_nothing(simulator, harnesses):
    service = make_service(simulator, settings=QUIET_SESSION, start_audio_paused=True)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_client_event("session.update")
    await harness.send(*audio_frames(tone(300, 24000), 24000))
    await asyncio.sleep(0.15)
    assert appended_bytes(conn) == 0
    service.set_audio_input_paused(False)
    await harness.send(*audio_frames(tone(300, 24000), 24000))
    assert await wait_appended(conn, 300 * 48) == 300 * 48
    await harness.stop()


async def test_g711_session_sends_and_receives_8khz(simulator, harnesses):
    from pipecat.frames.frames import LLMContextFrame, LLMFullResponseEndFrame, TTSAudioRawFrame
    from pipecat.processors.aggregators.llm_context import LLMContext

    settings = OpenAIRealtimeLLMService.Settings(
        session_properties=events.SessionProperties(
            audio=events.AudioConfiguration(
                input=events.AudioInput(format=events.PCMUAudioFormat(), turn_detection=False),
                output=events.AudioOutput(format=events.PCMUAudioFormat()),
            )
        )
    )
    service = make_service(simulator, settings=settings)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await harness.send(*audio_frames(tone(500, 16000), 16000))
    assert await wait_appended(conn, 500 * 8 - 2) in range(500 * 8 - 2, 500 * 8 + 3)
    session = (await conn.wait_for_client_event("session.update"))["session"]
    assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert session["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    await harness.send(
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "hi"}]))
    )
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    audio = harness.down.of(TTSAudioRawFrame)
    assert audio and all(f.sample_rate == 8000 for f in audio)
    received = sum(
        len(base64.b64decode(e["delta"]))
        for e in conn.server_events
        if e.get("type") == "response.output_audio.delta"
    )
    # mu-law: one byte per sample on the wire, two bytes per decoded PCM sample.
    assert sum(len(f.audio) for f in audio) == 2 * received


class AudioSeenBy(BaseObserver):
    """Records which processors processed and pushed each input audio frame."""

    def __init__(self) -> None:
        super().__init__()
        self.processed: list[tuple[object, Frame]] = []
        self.pushed: list[tuple[object, Frame]] = []

    async def on_process_frame(self, data: FrameProcessed) -> None:
        if isinstance(data.frame, InputAudioRawFrame):
            self.processed.append((data.processor, data.frame))

    async def on_push_frame(self, data: FramePushed) -> None:
        if isinstance(data.frame, InputAudioRawFrame):
            self.pushed.append((data.source, data.frame))


async def test_input_audio_passes_through_in_order_and_observers_see_it(simulator, harnesses):
    # Input audio skips the LLMService dispatch layers (hot path): it must still reach
    # downstream processors (recorders sit there) in order, and observers must see the
    # service process and push every frame.
    service = make_service(simulator, settings=QUIET_SESSION)
    observer = AudioSeenBy()
    harness = harnesses(service, observers=[observer])
    await harness.start()
    frames = audio_frames(tone(400, 16000), 16000)
    await harness.send(*frames)
    await harness.down.wait_for(InputAudioRawFrame, count=len(frames))
    assert harness.down.of(InputAudioRawFrame) == frames
    assert [f for p, f in observer.processed if p is service] == frames
    assert [f for p, f in observer.pushed if p is service] == frames
    await harness.stop()


async def test_a_subclass_push_frame_sees_input_audio(simulator, harnesses):
    seen: list[Frame] = []

    class Tapped(OpenAIRealtimeLLMService):
        async def push_frame(
            self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM
        ) -> None:
            if isinstance(frame, InputAudioRawFrame):
                seen.append(frame)
            await super().push_frame(frame, direction)

    service = Tapped(api_key="sk-test", base_url=simulator.base_url, settings=QUIET_SESSION)
    harness = harnesses(service)
    await harness.start()
    frames = audio_frames(tone(200, 16000), 16000)
    await harness.send(*frames)
    await harness.down.wait_for(InputAudioRawFrame, count=len(frames))
    assert seen == frames
    assert harness.down.of(InputAudioRawFrame) == frames
    await harness.stop()
