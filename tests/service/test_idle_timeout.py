"""Server VAD's idle timeout: the server answers silence on its own; the bot speaks once."""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import (
    ErrorFrame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai import events
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import Reply, ScriptedResponder
from tests.service.conftest import Harness, frames_of, make_service, silence, tone

IDLE_MS = 5000
IDLE_SESSION = OpenAIRealtimeLLMService.Settings(
    session_properties=events.SessionProperties(
        audio=events.AudioConfiguration(
            input=events.AudioInput(turn_detection=events.TurnDetection(idle_timeout_ms=IDLE_MS))
        )
    )
)


def audio_frames(audio: bytes) -> list[InputAudioRawFrame]:
    return [
        InputAudioRawFrame(audio=chunk, sample_rate=24000, num_channels=1)
        for chunk in frames_of(audio, 24000)
    ]


async def after_first_reply(simulator, harnesses, second_reply: str) -> tuple[Harness, Any]:
    """A running bot with the idle timeout on, right after it answered a first turn."""
    simulator.responder = ScriptedResponder([Reply(text="Hello!"), Reply(text=second_reply)])
    harness = harnesses(make_service(simulator, settings=IDLE_SESSION))
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await harness.send(LLMContextFrame(LLMContext(messages=[{"role": "user", "content": "Hi"}])))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    return harness, conn


async def test_idle_timeout_is_answered_once_with_balanced_frames(simulator, harnesses):
    harness, conn = await after_first_reply(simulator, harnesses, "Still there?")
    # The user says nothing for longer than the timeout (counted after the reply played).
    await harness.send(*audio_frames(silence(IDLE_MS + 2000)))
    timeout = await conn.wait_for_server_event("input_audio_buffer.timeout_triggered")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    assert timeout["audio_end_ms"] - timeout["audio_start_ms"] >= IDLE_MS
    assert conn.server_event_types.count("response.done") == 2
    # The server started that response itself: the service must not ask for another.
    assert conn.client_event_types.count("response.create") == 1
    down = harness.down
    assert len(down.of(LLMFullResponseStartFrame)) == len(down.of(LLMFullResponseEndFrame)) == 2
    assert len(down.of(TTSStartedFrame)) == len(down.of(TTSStoppedFrame)) == 2
    assert not harness.up.of(ErrorFrame) and not down.of(ErrorFrame)
    assert "error" not in conn.server_event_types


async def test_speech_before_the_timeout_resets_it(simulator, harnesses):
    harness, conn = await after_first_reply(simulator, harnesses, "Sure.")
    # Speech well inside the timeout, then less silence than the timeout after its reply.
    speech = silence(IDLE_MS - 2000) + tone(500) + silence(800)
    await harness.send(*audio_frames(speech))
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.send(*audio_frames(silence(IDLE_MS - 2000)))
    await harness.stop()

    assert "input_audio_buffer.timeout_triggered" not in conn.server_event_types
    assert conn.server_event_types.count("input_audio_buffer.speech_started") == 1
