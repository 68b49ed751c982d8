"""After a barge-in, the context holds the reply as far as the user heard it.

A real Pipecat output transport plays the reply at real time; the user talks over it
1 s in. The transport lets through only the text of the audio it played, so Pipecat's
assistant aggregator writes the beginning of the reply; the service recognises it as
the reply the server holds (cut where the user was), sends no copy of it back, and
the user's turn is answered once. (When the context holds more than was heard, the
core cuts it: ``tests/core/test_session_rules.py``.)
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    InputAudioRawFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMMessagesAppendFrame,
    ProposedUserStartedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair

from pipecat_realtime_openai import events
from pipecat_realtime_openai.testing import Reply, ScriptedResponder
from tests.reliability.conftest import PlayoutTransport, frames_of, silence, tone, wait_until
from tests.service.conftest import make_service

STORY = " ".join(f"word{n}" for n in range(60))  # several seconds of speech


def user_audio(audio: bytes) -> list[InputAudioRawFrame]:
    return [
        InputAudioRawFrame(audio=chunk, sample_rate=24000, num_channels=1)
        for chunk in frames_of(audio, 24000, frame_ms=100)
    ]


async def test_the_context_keeps_only_what_the_user_heard(simulator, harnesses):
    simulator.responder = ScriptedResponder([Reply(text=STORY), Reply(text="Sure.")])
    simulator.transcripts.put("Stop, please.")
    transcribed = events.SessionProperties(
        audio=events.AudioConfiguration(
            input=events.AudioInput(transcription=events.InputAudioTranscription())
        )
    )
    service = make_service(simulator, settings=make_settings(transcribed))
    context = LLMContext()
    pair = LLMContextAggregatorPair(context)
    transport = PlayoutTransport()
    harness = harnesses(pair.user(), service, transport, pair.assistant())
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    story = {"role": "user", "content": "Tell me a long story."}
    await harness.send(LLMMessagesAppendFrame(messages=[story], run_llm=True))
    await wait_until(lambda: transport.played_bytes >= 48 * 1000)  # 1 s heard

    await harness.send(*user_audio(tone(300)))
    await transport.wait_passed(ProposedUserStartedSpeakingFrame, 1)
    await harness.send(InterruptionFrame())
    await harness.send(*user_audio(silence(500)))
    await transport.wait_passed(LLMFullResponseEndFrame, 1)  # the answer to the turn
    await wait_until(lambda: len(assistant_texts(context)) == 2)
    await asyncio.sleep(0.3)  # a second answer, if one were asked for, would start now
    await harness.stop()

    cut, answer = assistant_texts(context)
    assert answer == "Sure."
    words = cut.split()
    assert 0 < len(words) < 60 and STORY.startswith(cut), cut
    # About one second of a several-second reply: a small share of its words.
    truncation = next(e for e in conn.client_events if e["type"] == "conversation.item.truncate")
    assert truncation["audio_end_ms"] >= 900
    texts = [
        part.get("text")
        for item in conn.items
        for part in item.get("content") or []
        if item.get("role") == "assistant"
    ]
    assert STORY not in texts and cut not in texts, "no text copy of the reply went back"
    assert conn.server_event_types.count("response.created") == 2, "the turn is answered once"


def make_settings(session: events.SessionProperties):
    from pipecat_realtime_openai import OpenAIRealtimeLLMService

    return OpenAIRealtimeLLMService.Settings(session_properties=session)


def assistant_texts(context: LLMContext) -> list[str]:
    return [
        m["content"]
        for m in context.get_messages()
        if isinstance(m, dict)
        and m.get("role") == "assistant"
        and isinstance(m.get("content"), str)
    ]
