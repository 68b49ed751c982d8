"""Recorded real OpenAI sessions replayed to the service over a real socket."""

from __future__ import annotations

import pytest
from pipecat.frames.frames import (
    FunctionCallsStartedFrame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.metrics.metrics import LLMUsageMetricsData
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai.protocol.official import official_client_event_error
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing.recordings import load_recording, sent_events
from pipecat_realtime_openai.testing.replay import RecordingReplayServer
from tests.conftest import RECORDED_DIR, recorded_dir
from tests.service.conftest import frames_of, silence, tone

OPENAI_RECORDINGS = sorted((RECORDED_DIR / "openai").glob("*.yaml"))


def user_text(recording) -> str:
    for event in sent_events(recording):
        if event.get("type") == "conversation.item.create":
            item = event["item"]
            if item.get("role") == "user":
                return item["content"][0]["text"]
    return ""


def replay_context(recording) -> LLMContext:
    """The context a Pipecat bot would have had for the recorded conversation."""
    messages = []
    for event in sent_events(recording):
        if event.get("type") == "conversation.item.create":
            item = event["item"]
            if item.get("type") == "message":
                messages.append(
                    {"role": item["role"], "content": item["content"][0].get("text", "")}
                )
    return LLMContext(messages=messages)


def usage_of(frames) -> list:
    return [
        data
        for frame in frames
        if isinstance(frame, MetricsFrame)
        for data in frame.data
        if isinstance(data, LLMUsageMetricsData)
    ]


def test_every_openai_recording_has_a_replay_test():
    folder = recorded_dir("openai")
    names = {path.stem for path in folder.glob("*.yaml")}
    assert names == set(EXPECTED), "add a replay expectation for each recorded session"


async def _replay(path, harnesses, drive) -> tuple:
    recording = load_recording(path)
    async with RecordingReplayServer(recording) as server:
        service = OpenAIRealtimeLLMService(api_key="sk-test", base_url=server.base_url)

        async def get_weather(params: FunctionCallParams) -> None:
            await params.result_callback({"temperature_c": 18, "sky": "cloudy"})

        service.register_function("get_weather", get_weather)
        harness = harnesses(service)
        await harness.start()
        await drive(harness, recording)
        await server.wait_until_done(timeout=10)
        await harness.down.wait_for(LLMFullResponseEndFrame, count=EXPECTED[path.stem]["responses"])
        await harness.stop()
        problems = [official_client_event_error(e) for e in server.client_events]
        assert not [p for p in problems if p], problems
        return harness, server


async def drive_with_context(harness, recording) -> None:
    await harness.send(LLMContextFrame(context=replay_context(recording)))


async def drive_with_audio(harness, recording) -> None:
    audio = tone(800, 16000) + silence(600, 16000)
    await harness.send(
        *[
            InputAudioRawFrame(audio=a, sample_rate=16000, num_channels=1)
            for a in frames_of(audio, 16000)
        ]
    )


EXPECTED = {
    "text_in_audio_out_turn": {"responses": 1, "drive": drive_with_context, "audio": True},
    "message_history_seeding": {"responses": 1, "drive": drive_with_context, "audio": False},
    "tool_call_round": {"responses": 2, "drive": drive_with_context, "audio": False},
    "audio_in_server_vad_turn": {"responses": 1, "drive": drive_with_audio, "audio": True},
}


@pytest.mark.parametrize("path", OPENAI_RECORDINGS, ids=lambda p: p.stem)
async def test_replay_produces_expected_frames(path, harnesses):
    if not RECORDED_DIR.is_dir():
        pytest.skip("recorded sessions are not available")
    expected = EXPECTED[path.stem]
    harness, server = await _replay(path, harnesses, expected["drive"])
    down = harness.down
    responses = expected["responses"]
    assert len(down.of(LLMFullResponseStartFrame)) == responses
    assert len(down.of(LLMFullResponseEndFrame)) == responses
    assert len(usage_of(down.frames)) == responses
    if expected["audio"]:
        assert len(down.of(TTSStartedFrame)) == 1 and len(down.of(TTSStoppedFrame)) == 1
        assert down.of(TTSAudioRawFrame) and down.of(TTSTextFrame)
        assert all(not f.append_to_context for f in down.of(LLMTextFrame))
    else:
        assert not down.of(TTSStartedFrame) and not down.of(TTSAudioRawFrame)
        assert down.of(LLMTextFrame)
    if path.stem == "tool_call_round":
        assert down.of(FunctionCallsStartedFrame)
        sent = [e for e in server.client_events if e.get("type") == "response.create"]
        assert len(sent) == 2
        outputs = [
            e["item"]
            for e in server.client_events
            if e.get("type") == "conversation.item.create"
            and e["item"].get("type") == "function_call_output"
        ]
        assert len(outputs) == 1 and "cloudy" in outputs[0]["output"]
        assert "London" in "".join(f.text for f in down.of(LLMTextFrame))
    if path.stem == "audio_in_server_vad_turn":
        up = harness.up
        assert up.of(ProposedUserStartedSpeakingFrame) and up.of(ProposedUserStoppedSpeakingFrame)
        assert up.of(InterimTranscriptionFrame)
        final = up.of(TranscriptionFrame)
        assert len(final) == 1 and final[0].text
        assert not [e for e in server.client_events if e.get("type") == "response.create"]
