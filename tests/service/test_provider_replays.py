"""Every recorded session of every provider, replayed through that provider's service.

The frames must balance (each response started is ended, each TTS start stopped), every
recorded response must reach the pipeline, usage must be reported for each, and no
server event may be dropped: nothing is logged as malformed, and the only events the
service does not know are the ones it has no use for (xAI's ``ping``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger
from pipecat.frames.frames import (
    FunctionCallsStartedFrame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai import (
    AzureRealtimeLLMService,
    GrokRealtimeLLMService,
    OpenAIRealtimeLLMService,
)
from pipecat_realtime_openai.testing.recordings import (
    Recording,
    connections,
    load_recording,
    provider_of,
    received_events,
    sent_events,
)
from pipecat_realtime_openai.testing.replay import RecordingReplayServer
from tests.conftest import RECORDED_DIR
from tests.service.conftest import frames_of, silence, tone, wait_until
from tests.service.test_replays import usage_of

FOLDERS = ("openai", "azure", "xai", "parity")
RECORDINGS = [p for folder in FOLDERS for p in sorted((RECORDED_DIR / folder).glob("*.yaml"))]
TOLERATED_UNKNOWN = {"ping"}


def _service(provider: str, base_url: str) -> OpenAIRealtimeLLMService:
    if provider == "azure":
        return AzureRealtimeLLMService(api_key="az-test", base_url=base_url)
    if provider == "xai":
        return GrokRealtimeLLMService(
            api_key="xai-test",
            base_url=base_url,
            settings=GrokRealtimeLLMService.Settings(
                session_properties={"resumption": {"enabled": True}}
            ),
        )
    return OpenAIRealtimeLLMService(api_key="sk-test", base_url=base_url)


def _user_texts(recording: Recording) -> list[list[dict]]:
    """The messages the recorded client created, per connection."""
    per_connection = []
    for part in connections(recording):
        messages = []
        for direction, data in part:
            if direction != "sent" or data.get("type") != "conversation.item.create":
                continue
            item = data["item"]
            if item.get("type") == "message":
                text = item["content"][0].get("text", "")
                messages.append({"role": item["role"], "content": text})
        per_connection.append(messages)
    return per_connection


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG")
    yield lines
    logger.remove(sink)


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", RECORDINGS or [None], ids=lambda p: _id(p) if p else "absent")
async def test_every_recording_replays_through_its_provider_service(path, harnesses, log_lines):
    if path is None:
        pytest.skip(f"recorded sessions not found at {RECORDED_DIR} (only beside CI clones)")
    recording = load_recording(path)
    provider = provider_of(path)
    received = received_events(recording)
    responses = sum(1 for e in received if e.get("type") == "response.done")
    spoken = any(e.get("type") == "input_audio_buffer.append" for e in sent_events(recording))
    per_connection = _user_texts(recording)

    async with RecordingReplayServer(recording) as server:
        service = _service(provider, server.base_url)

        async def get_weather(params: FunctionCallParams) -> None:
            await params.result_callback({"temperature_c": 18, "sky": "cloudy"})

        for name in ("get_weather", "lookup_weather", "get_current_weather"):
            service.register_function(name, get_weather)
        harness = harnesses(service)
        await harness.start()
        if spoken:
            audio = tone(800, 16000) + silence(600, 16000)
            await harness.send(
                *[
                    InputAudioRawFrame(audio=chunk, sample_rate=16000, num_channels=1)
                    for chunk in frames_of(audio, 16000)
                ]
            )
        else:
            await harness.send(LLMContextFrame(context=LLMContext(messages=per_connection[0])))
        for number, later in enumerate(per_connection[1:], start=1):
            # A later connection (a reconnect) continues with its own new messages,
            # once it is up (the recording shows them sent there).
            await harness.down.wait_for(LLMFullResponseEndFrame, count=number)
            await wait_until(
                lambda n=number: service.core.reconnects >= n and service.core.phase.configured
            )
            new = later[-1:] if later else []
            if new:
                await harness.send(LLMMessagesAppendFrame(messages=new, run_llm=True))
        await server.wait_until_done(timeout=10)
        await harness.down.wait_for(LLMFullResponseEndFrame, count=responses)
        await harness.stop()

    down = harness.down
    assert len(down.of(LLMFullResponseStartFrame)) == len(down.of(LLMFullResponseEndFrame))
    assert len(down.of(LLMFullResponseEndFrame)) == responses
    assert len(down.of(TTSStartedFrame)) == len(down.of(TTSStoppedFrame))
    assert len(usage_of(down.frames)) == responses
    if any(e.get("type") == "response.output_audio.delta" for e in received):
        assert down.of(TTSAudioRawFrame)
    if any(e.get("type") == "response.function_call_arguments.done" for e in received):
        assert down.of(FunctionCallsStartedFrame)
    if spoken and any(
        e.get("type") == "conversation.item.input_audio_transcription.completed" for e in received
    ):
        assert len(harness.up.of(TranscriptionFrame)) == 1, "one final transcript per turn"
    malformed = [line for line in log_lines if "malformed" in line]
    assert not malformed, malformed
    unknown = [line for line in log_lines if "skipping unknown server event" in line]
    assert all(any(t in line for t in TOLERATED_UNKNOWN) for line in unknown), unknown
