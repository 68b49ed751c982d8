"""The same behaviour suite for every provider, each service against its simulator dialect.

Text turn, spoken turn, tool round, barge-in, reconnect with the conversation restored,
and a refused credential, over a real socket for: OpenAI, Azure OpenAI (v1), Azure's
legacy preview endpoint, Azure Voice Live and xAI Grok.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    ErrorFrame,
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
    events,
)
from pipecat_realtime_openai.core.reconnect import ReconnectOptions
from pipecat_realtime_openai.protocol.session import (
    DEFAULT_REALTIME_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
)
from pipecat_realtime_openai.testing import (
    FunctionCall,
    RealtimeSimulator,
    Reply,
    ScriptedResponder,
)
from tests.service.conftest import frames_of, silence, tone, wait_until

FAST = ReconnectOptions(jitter=0.0, initial_delay=0.0, max_session_duration=None)
KEY = "provider-key"


@dataclass(frozen=True)
class Provider:
    dialect: str
    build: Callable[..., OpenAIRealtimeLLMService]

    def service(self, sim: RealtimeSimulator, key: str = KEY, **kwargs) -> OpenAIRealtimeLLMService:
        return self.build(sim, key, **kwargs)


def _transcribed(model: str) -> events.SessionProperties:
    return events.SessionProperties(
        audio=events.AudioConfiguration(
            input=events.AudioInput(transcription=events.InputAudioTranscription(model=model))
        )
    )


def _openai(sim, key, **kwargs):
    settings = OpenAIRealtimeLLMService.Settings(
        session_properties=_transcribed(DEFAULT_TRANSCRIPTION_MODEL)
    )
    return OpenAIRealtimeLLMService(
        api_key=key, base_url=sim.base_url, settings=settings, reconnect=FAST, **kwargs
    )


def _azure(sim, key, **kwargs):
    # On Azure the transcription model names a deployment (the simulator's).
    settings = AzureRealtimeLLMService.Settings(
        model=DEFAULT_REALTIME_MODEL, session_properties=_transcribed(DEFAULT_TRANSCRIPTION_MODEL)
    )
    return AzureRealtimeLLMService(
        api_key=key, base_url=sim.base_url, settings=settings, reconnect=FAST, **kwargs
    )


def _grok(sim, key, **kwargs):
    session = {"voice": "ara", "audio": {"input": {"transcription": {"model": "grok-transcribe"}}}}
    settings = GrokRealtimeLLMService.Settings(session_properties=session)
    return GrokRealtimeLLMService(
        api_key=key, base_url=sim.base_url, settings=settings, reconnect=FAST, **kwargs
    )


PROVIDERS = [
    Provider("openai", _openai),
    Provider("azure", _azure),
    Provider("azure-preview", _azure),
    Provider("voice-live", _azure),
    Provider("xai", _grok),
]


@pytest.fixture(params=PROVIDERS, ids=lambda p: p.dialect)
async def provider_sim(request) -> AsyncIterator[tuple[Provider, RealtimeSimulator]]:
    provider: Provider = request.param
    async with RealtimeSimulator(api_key=KEY, dialect=provider.dialect) as sim:
        yield provider, sim


def _speech(rate: int = 16000) -> list[InputAudioRawFrame]:
    audio = tone(500, rate) + silence(700, rate)
    return [
        InputAudioRawFrame(audio=a, sample_rate=rate, num_channels=1)
        for a in frames_of(audio, rate)
    ]


def _balanced(harness) -> None:
    down = harness.down
    assert len(down.of(LLMFullResponseStartFrame)) == len(down.of(LLMFullResponseEndFrame))
    assert len(down.of(TTSStartedFrame)) == len(down.of(TTSStoppedFrame))


def _errors(conn) -> list[dict]:
    return [e for e in conn.server_events if e.get("type") == "error"]


async def test_text_turn(provider_sim, harnesses):
    provider, sim = provider_sim
    sim.responder = ScriptedResponder([Reply(text="Hello from the simulator")])
    harness = harnesses(provider.service(sim))
    await harness.start()
    context = LLMContext(messages=[{"role": "user", "content": "Hi"}])
    await harness.send(LLMContextFrame(context=context))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    conn = sim.connections[0]
    await harness.stop()
    assert harness.down.of(TTSAudioRawFrame)
    assert not _errors(conn), _errors(conn)
    _balanced(harness)


async def test_spoken_turn(provider_sim, harnesses):
    provider, sim = provider_sim
    sim.transcripts.put("what time is it")
    sim.responder = ScriptedResponder([Reply(text="It is noon")])
    harness = harnesses(provider.service(sim))
    await harness.start()
    await sim.wait_for_connection()
    await asyncio.sleep(0.05)
    await harness.send(*_speech())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.up.wait_for(TranscriptionFrame)
    conn = sim.connections[0]
    await harness.stop()
    finals = harness.up.of(TranscriptionFrame)
    assert [f.text for f in finals] == ["what time is it"]
    assert "input_audio_buffer.append" in conn.client_event_types
    assert not _errors(conn), _errors(conn)
    _balanced(harness)


async def test_tool_round(provider_sim, harnesses):
    provider, sim = provider_sim
    sim.responder = ScriptedResponder(
        [
            Reply(function_calls=[FunctionCall("get_weather", {"city": "Paris"})]),
            Reply(text="It is sunny in Paris"),
        ]
    )
    service = provider.service(sim)

    async def get_weather(params: FunctionCallParams) -> None:
        await params.result_callback({"sky": "sunny"})

    service.register_function("get_weather", get_weather)
    harness = harnesses(service)
    await harness.start()
    context = LLMContext(messages=[{"role": "user", "content": "Weather in Paris?"}])
    await harness.send(LLMContextFrame(context=context))
    await harness.down.wait_for(FunctionCallsStartedFrame)
    conn = await sim.wait_for_connection()
    output = await conn.wait_for_client_event("conversation.item.create", count=2)
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    assert output["item"]["type"] == "function_call_output"
    assert "sunny" in output["item"]["output"]
    assert not _errors(conn), _errors(conn)
    _balanced(harness)


async def test_barge_in(provider_sim, harnesses):
    provider, sim = provider_sim
    sim.pace = "realtime"
    sim.responder = ScriptedResponder(
        [
            Reply(text="Let me tell you a long story about the sea and the sky " * 3),
            Reply(text="Ok"),
        ]
    )
    harness = harnesses(provider.service(sim))
    await harness.start()
    conn = await sim.wait_for_connection()
    context = LLMContext(messages=[{"role": "user", "content": "Story"}])
    await harness.send(LLMContextFrame(context=context))
    await harness.down.wait_for(TTSStartedFrame)
    await harness.send(BotStartedSpeakingFrame(), upstream=True)
    await harness.down.wait_for(TTSAudioRawFrame, count=5)
    await harness.send(*_speech())
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2, timeout_s=15)
    await harness.stop()
    types = conn.client_event_types
    if provider.dialect == "xai":
        assert "conversation.item.truncate" not in types, "xAI refuses truncation"
    else:
        assert "conversation.item.truncate" in types
    assert not _errors(conn), _errors(conn)
    _balanced(harness)


async def test_reconnect_restores_the_conversation(provider_sim, harnesses):
    provider, sim = provider_sim
    sim.responder = ScriptedResponder([Reply(text="Noted: cobalt"), Reply(text="It was cobalt")])
    service = provider.service(sim)
    harness = harnesses(service)
    await harness.start()
    context = LLMContext(messages=[{"role": "user", "content": "The code word is cobalt"}])
    await harness.send(LLMContextFrame(context=context))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    first = sim.connections[0]
    first.drop()
    second = await sim.wait_for_connection(2)
    await second.wait_for_client_event("session.update")
    await wait_until(lambda: service.core.phase.configured)
    await harness.send(
        LLMMessagesAppendFrame(messages=[{"role": "user", "content": "Which word?"}], run_llm=True)
    )
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    texts = [
        part.get("text")
        for item in second.items
        for part in item.get("content") or []
        if part.get("text")
    ]
    assert "The code word is cobalt" in texts, "the first turn is in the new conversation"
    assert "Which word?" in texts
    assert not _errors(second), _errors(second)
    _balanced(harness)


async def test_a_refused_credential_is_fatal(provider_sim, harnesses):
    provider, sim = provider_sim
    harness = harnesses(provider.service(sim, key="wrong-key"))
    await harness.start()
    error = await harness.up.wait_for(ErrorFrame)
    await harness.stop()
    assert error.fatal
    assert len(sim.connections) <= 1, "a refused credential is not retried"


async def test_xai_resumes_its_conversation_instead_of_a_replay(harnesses):
    async with RealtimeSimulator(api_key=KEY, dialect="xai") as sim:
        sim.responder = ScriptedResponder([Reply(text="Noted"), Reply(text="Cobalt")])
        settings = GrokRealtimeLLMService.Settings(
            session_properties={"voice": "rex", "resumption": {"enabled": True}}
        )
        service = GrokRealtimeLLMService(
            api_key=KEY, base_url=sim.base_url, settings=settings, reconnect=FAST
        )
        harness = harnesses(service)
        await harness.start()
        context = LLMContext(messages=[{"role": "user", "content": "The code word is cobalt"}])
        await harness.send(LLMContextFrame(context=context))
        await harness.down.wait_for(LLMFullResponseEndFrame)
        first = sim.connections[0]
        conversation = first.state.conversation_id
        first.drop()
        second = await sim.wait_for_connection(2)
        await second.wait_for_client_event("session.update")
        await wait_until(lambda: service.core.phase.configured)
        await harness.send(
            LLMMessagesAppendFrame(messages=[{"role": "user", "content": "Which?"}], run_llm=True)
        )
        await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
        await harness.stop()
    assert f"conversation_id={conversation}" in second.websocket.request.path
    created = [e for e in second.client_events if e.get("type") == "conversation.item.create"]
    assert [e["item"]["content"][0]["text"] for e in created] == ["Which?"]
    texts = [p.get("text") for item in second.items for p in item.get("content") or []]
    assert "The code word is cobalt" in texts, "xAI kept the first turn"
    _balanced(harness)
