"""Manual turn mode (turn_detection off): local turn frames drive commits and responses."""

from __future__ import annotations

import base64

from pipecat.frames.frames import (
    InputAudioRawFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMServiceMetadataFrame,
    TTSStartedFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies

from pipecat_realtime_openai import events
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import Reply, ScriptedResponder
from tests.service.conftest import frames_of, make_service, tone

MANUAL = OpenAIRealtimeLLMService.Settings(
    session_properties=events.SessionProperties(
        audio=events.AudioConfiguration(input=events.AudioInput(turn_detection=False))
    )
)


def audio_frames(ms: int) -> list[InputAudioRawFrame]:
    return [
        InputAudioRawFrame(audio=a, sample_rate=16000, num_channels=1)
        for a in frames_of(tone(ms, 16000), 16000)
    ]


async def test_user_stop_commits_all_audio_then_asks_once(simulator, harnesses):
    service = make_service(simulator, settings=MANUAL, audio_batch_ms=100)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    session = (await conn.wait_for_client_event("session.update"))["session"]
    assert session["audio"]["input"]["turn_detection"] is None
    await harness.send(UserStartedSpeakingFrame(), *audio_frames(730), UserStoppedSpeakingFrame())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()

    types = conn.client_event_types
    commit = types.index("input_audio_buffer.commit")
    assert types.count("input_audio_buffer.commit") == 1
    assert types.count("response.create") == 1
    assert types.index("response.create") == commit + 1
    assert "input_audio_buffer.append" not in types[commit:]
    appended = sum(
        len(base64.b64decode(e["audio"]))
        for e in conn.client_events[:commit]
        if e.get("type") == "input_audio_buffer.append"
    )
    assert abs(appended - 730 * 48) <= 4  # the tail held by the batcher was flushed first
    user_items = [i for i in conn.items if i.get("role") == "user"]
    assert user_items and user_items[0]["content"][0]["type"] == "input_audio"


async def test_interruption_clears_replays_preroll_and_cancels(simulator, harnesses):
    simulator.pace = "realtime"  # keep the reply going while the user barges in
    simulator.responder = ScriptedResponder([Reply(text="A fairly long answer " * 8)])
    service = make_service(simulator, settings=MANUAL, user_audio_preroll_secs=0.2)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await harness.send(UserStartedSpeakingFrame(), *audio_frames(500), UserStoppedSpeakingFrame())
    await harness.down.wait_for(TTSStartedFrame)
    await harness.send(InterruptionFrame(), UserStartedSpeakingFrame(), *audio_frames(300))
    await conn.wait_for_client_event("response.cancel")
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()

    types = conn.client_event_types
    clear = types.index("input_audio_buffer.clear")
    assert types[clear + 1] == "input_audio_buffer.append"
    preroll = base64.b64decode(conn.client_events[clear + 1]["audio"])
    assert 0 < len(preroll) <= 200 * 48
    assert types.index("response.cancel") > clear
    assert conn.server_event_types.count("response.done") == 1
    done = next(e for e in conn.server_events if e["type"] == "response.done")
    assert done["response"]["status"] == "cancelled"
    assert len(harness.down.of(LLMFullResponseEndFrame)) == 1


async def test_metadata_recommends_external_turns_only_with_server_vad(simulator, harnesses):
    manual = harnesses(make_service(simulator, settings=MANUAL))
    await manual.start()
    vad = harnesses(make_service(simulator))
    await vad.start()
    manual_meta = await manual.down.wait_for(LLMServiceMetadataFrame)
    vad_meta = await vad.down.wait_for(LLMServiceMetadataFrame)
    await manual.stop()
    await vad.stop()
    assert manual_meta.is_realtime_service and vad_meta.is_realtime_service
    assert manual_meta.user_turn_strategies is None
    assert isinstance(vad_meta.user_turn_strategies, ExternalUserTurnStrategies)


async def test_manual_mode_survives_a_settings_update_that_omits_it(simulator, harnesses):
    from pipecat.frames.frames import LLMUpdateSettingsFrame

    service = make_service(simulator, settings=MANUAL)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    voice_only = OpenAIRealtimeLLMService.Settings(
        session_properties=events.SessionProperties(
            audio=events.AudioConfiguration(output=events.AudioOutput(voice="marin"))
        )
    )
    await harness.send(LLMUpdateSettingsFrame(delta=voice_only))
    await conn.wait_for_client_event("session.update", count=2)
    await harness.send(UserStartedSpeakingFrame(), *audio_frames(400), UserStoppedSpeakingFrame())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    assert conn.session["audio"]["input"]["turn_detection"] is None
    assert conn.client_event_types.count("input_audio_buffer.commit") == 1


async def test_turn_detection_none_keeps_server_vad_like_the_built_in(simulator, harnesses):
    # Pipecat's built-in service omits a None turn_detection, so the server keeps its
    # VAD: code written for it must not end up in manual turn mode here.
    settings = OpenAIRealtimeLLMService.Settings(
        session_properties=events.SessionProperties(
            audio=events.AudioConfiguration(input=events.AudioInput(turn_detection=None))
        )
    )
    service = make_service(simulator, settings=settings)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await harness.stop()
    [update] = [e for e in conn.client_events if e.get("type") == "session.update"]
    assert "turn_detection" not in update["session"].get("audio", {}).get("input", {})
    assert conn.session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
