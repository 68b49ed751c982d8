"""Barge-in with server VAD: truncation at what was heard, balanced frames, no late audio."""

from __future__ import annotations

import base64

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai.testing import Reply, ScriptedResponder
from tests.service.conftest import frames_of, make_service, silence, tone


def user_speech() -> list[InputAudioRawFrame]:
    audio = tone(400, 24000) + silence(500, 24000)
    return [
        InputAudioRawFrame(audio=a, sample_rate=24000, num_channels=1)
        for a in frames_of(audio, 24000)
    ]


async def talk_over_the_bot(harness) -> None:
    """Ask for a story, let its playback begin, then speak while the bot talks."""
    await harness.send(
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "Story"}]))
    )
    await harness.down.wait_for(TTSStartedFrame)
    # The transport reports that playback began.
    await harness.send(BotStartedSpeakingFrame(), upstream=True)
    await harness.down.wait_for(TTSAudioRawFrame, count=5)
    await harness.send(*user_speech())


async def test_barge_in_truncates_within_received_audio(simulator, harnesses):
    simulator.pace = "realtime"
    simulator.responder = ScriptedResponder(
        [
            Reply(text="Let me tell you a long story about the sea and the sky " * 3),
            Reply(text="Ok"),
        ]
    )
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await talk_over_the_bot(harness)
    truncate = await conn.wait_for_client_event("conversation.item.truncate")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    item_id = truncate["item_id"]
    received = sum(
        len(base64.b64decode(e["delta"]))
        for e in conn.server_events
        if e.get("type") == "response.output_audio.delta" and e.get("item_id") == item_id
    )
    assert 0 < truncate["audio_end_ms"] <= received // 48
    assert "error" not in conn.server_event_types
    down = harness.down
    assert len(down.of(LLMFullResponseStartFrame)) == 2
    assert len(down.of(LLMFullResponseEndFrame)) == 2
    assert len(down.of(TTSStartedFrame)) == len(down.of(TTSStoppedFrame))
    # The first response's pair closes at the barge-in, before the second one opens.
    kinds = [type(f) for f in down.frames if isinstance(f, TTSStartedFrame | TTSStoppedFrame)]
    assert kinds[:2] == [TTSStartedFrame, TTSStoppedFrame]
    # No audio of the interrupted response is pushed after its TTSStoppedFrame.
    first_stop = down.frames.index(down.of(TTSStoppedFrame)[0])
    second_start = down.frames.index(down.of(TTSStartedFrame)[1])
    assert not [f for f in down.frames[first_stop:second_start] if isinstance(f, TTSAudioRawFrame)]


async def test_audio_never_heard_is_deleted_not_truncated(simulator, harnesses):
    simulator.responder = ScriptedResponder([Reply(text="Hello"), Reply(text="Ok")])
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await harness.send(
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "Hi"}]))
    )
    await harness.down.wait_for(LLMFullResponseEndFrame)
    # Playback never started (no BotStartedSpeakingFrame): nothing was heard.
    await harness.send(*user_speech())
    deleted = await conn.wait_for_client_event("conversation.item.delete")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    assert "conversation.item.truncate" not in conn.client_event_types
    assistant = next(e for e in conn.server_events if e.get("type") == "response.output_item.added")
    assert deleted["item_id"] == assistant["item"]["id"]


async def test_without_interrupt_response_the_reply_plays_on_and_the_turn_is_answered_after(
    simulator, harnesses
):
    from pipecat_realtime_openai import events
    from pipecat_realtime_openai.service import OpenAIRealtimeLLMService

    settings = OpenAIRealtimeLLMService.Settings(
        session_properties=events.SessionProperties(
            audio=events.AudioConfiguration(
                input=events.AudioInput(
                    turn_detection=events.TurnDetection(interrupt_response=False)
                )
            )
        )
    )
    simulator.pace = "realtime"
    story = "Let me tell you a long story about the sea and the sky"
    simulator.responder = ScriptedResponder([Reply(text=story), Reply(text="Ok")])
    service = make_service(simulator, settings=settings)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await talk_over_the_bot(harness)
    await conn.wait_for_server_event("input_audio_buffer.committed")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    # Nothing was cut: no truncate, no cancel, the whole first reply was played.
    assert "conversation.item.truncate" not in conn.client_event_types
    assert "response.cancel" not in conn.client_event_types
    done = [e for e in conn.server_events if e.get("type") == "response.done"]
    assert [d["response"]["status"] for d in done] == ["completed", "completed"]
    first_id = done[0]["response"]["id"]
    sent = sum(
        len(base64.b64decode(e["delta"]))
        for e in conn.server_events
        if e.get("type") == "response.output_audio.delta" and e.get("response_id") == first_id
    )
    down = harness.down
    first_stop = down.frames.index(down.of(TTSStoppedFrame)[0])
    played = sum(len(f.audio) for f in down.frames[:first_stop] if isinstance(f, TTSAudioRawFrame))
    assert played == sent
    # The server answered the turn by itself after the reply: one response.create (ours).
    assert conn.client_event_types.count("response.create") == 1
    assert len(down.of(LLMFullResponseStartFrame)) == len(down.of(LLMFullResponseEndFrame)) == 2
    assert len(down.of(TTSStartedFrame)) == len(down.of(TTSStoppedFrame)) == 2
