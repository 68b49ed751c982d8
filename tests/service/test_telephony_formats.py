"""An 8 kHz pipeline gets G.711 on the session both ways, with no resampling."""

from __future__ import annotations

import base64

from pipecat.frames.frames import (
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    TTSAudioRawFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai import OpenAIRealtimeLLMService, events
from pipecat_realtime_openai.core.dialect import AZURE, OPENAI, XAI
from pipecat_realtime_openai.core.telephony import telephony_session
from tests.service.conftest import frames_of, make_service, tone, wait_until

PHONE = PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000)


def test_only_an_8_khz_pipeline_without_formats_gets_g711() -> None:
    pcmu = {"type": "audio/pcmu"}
    chosen = telephony_session({"type": "realtime"}, 8000, 8000, OPENAI)
    assert chosen == {
        "type": "realtime",
        "audio": {"input": {"format": pcmu}, "output": {"format": pcmu}},
    }
    assert telephony_session({"type": "realtime"}, 8000, 8000, AZURE) == chosen
    assert telephony_session({"type": "realtime"}, 16000, 8000, OPENAI) is None
    assert telephony_session({"type": "realtime"}, 8000, 24000, OPENAI) is None
    # xAI takes PCM at 8 kHz as it is.
    assert telephony_session({"type": "realtime"}, 8000, 8000, XAI) is None
    chosen_by_user = {"audio": {"output": {"format": {"type": "audio/pcma"}}}}
    assert telephony_session(chosen_by_user, 8000, 8000, OPENAI) is None


def test_the_input_session_is_not_modified() -> None:
    session = {"type": "realtime", "audio": {"output": {"voice": "marin"}}}
    telephony_session(session, 8000, 8000, OPENAI)
    assert session == {"type": "realtime", "audio": {"output": {"voice": "marin"}}}


async def test_a_phone_pipeline_speaks_pcmu_on_the_socket(simulator, harnesses):
    service = make_service(simulator)
    harness = harnesses(service, params=PHONE)
    await harness.start()
    conn = await simulator.wait_for_connection()
    update = await conn.wait_for_client_event("session.update")
    assert update["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert update["session"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    await conn.wait_for_server_event("session.updated")
    await harness.send(
        *[
            InputAudioRawFrame(audio=a, sample_rate=8000, num_channels=1)
            for a in frames_of(tone(200, 8000), 8000)
        ]
    )
    context = LLMContext(messages=[{"role": "user", "content": "Hi"}])
    await harness.send(LLMContextFrame(context=context))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    appends = [e for e in conn.client_events if e["type"] == "input_audio_buffer.append"]
    # 200 ms of 8 kHz G.711 is 1600 bytes: one byte a sample, no resampling to 24 kHz.
    assert sum(len(base64.b64decode(e["audio"])) for e in appends) == 1600
    audio = harness.down.of(TTSAudioRawFrame)
    assert audio and {f.sample_rate for f in audio} == {8000}
    assert settings_format(service) == "audio/pcmu"


async def test_formats_the_user_named_win(simulator, harnesses):
    pcm = events.AudioConfiguration(
        input=events.AudioInput(format=events.PCMAudioFormat(rate=24000)),
        output=events.AudioOutput(format=events.PCMAudioFormat(rate=24000)),
    )
    settings = OpenAIRealtimeLLMService.Settings(
        session_properties=events.SessionProperties(audio=pcm)
    )
    harness = harnesses(make_service(simulator, settings=settings), params=PHONE)
    await harness.start()
    conn = await simulator.wait_for_connection()
    update = await conn.wait_for_client_event("session.update")
    await harness.stop()
    assert update["session"]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}


def settings_format(service: OpenAIRealtimeLLMService) -> str | None:
    audio = service._settings.session_properties.audio
    return audio.output.format.type if audio and audio.output and audio.output.format else None


async def test_audio_held_while_connecting_goes_out_in_g711(simulator, harnesses):
    # The session comes late, so the first audio is held before any session.update.
    simulator.faults.latency_seconds = 0.3
    harness = harnesses(make_service(simulator), params=PHONE)
    await harness.start()
    await harness.send(
        *[
            InputAudioRawFrame(audio=a, sample_rate=8000, num_channels=1)
            for a in frames_of(bytes(3200), 8000)
        ]
    )
    conn = await simulator.wait_for_connection()

    def sent() -> bytes:
        appends = [e for e in conn.client_events if e["type"] == "input_audio_buffer.append"]
        return b"".join(base64.b64decode(e["audio"]) for e in appends)

    await wait_until(lambda: len(sent()) >= 1600)
    await harness.stop()
    # 200 ms of silence, as mu-law silence: not 24 kHz PCM zeros, which G.711 reads as
    # full-scale noise.
    assert sent() == b"\xff" * 1600
