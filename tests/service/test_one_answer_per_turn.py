"""Each user turn gets exactly one answer when the aggregators mirror spoken turns.

In realtime mode Pipecat's user aggregator writes the transcript of a spoken turn into
the context and pushes an ``LLMContextFrame`` downstream, usually after the server's
automatic (server VAD) reply started or even finished. That frame repeats what the
server already holds, so it must not ask for another response.
"""

from __future__ import annotations

from pipecat.frames.frames import (
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMMessagesAppendFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection

from pipecat_realtime_openai import events
from pipecat_realtime_openai.core.context_sync import ContextChanges
from pipecat_realtime_openai.core.items import text_message_item
from pipecat_realtime_openai.core.responses import downstream_context_wants_response
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import Reply, ScriptedResponder
from tests.service.conftest import Recorder, frames_of, make_service, silence, tone
from tests.service.test_context_sync import changes as context_changes
from tests.service.test_context_sync import new_sync, view


def spoken_turn() -> list[InputAudioRawFrame]:
    audio = tone(500, 16000) + silence(700, 16000)
    return [
        InputAudioRawFrame(audio=a, sample_rate=16000, num_channels=1)
        for a in frames_of(audio, 16000)
    ]


def transcribing_service(simulator) -> OpenAIRealtimeLLMService:
    settings = OpenAIRealtimeLLMService.Settings(
        session_properties=events.SessionProperties(
            audio=events.AudioConfiguration(
                input=events.AudioInput(transcription=events.InputAudioTranscription())
            )
        )
    )
    return make_service(simulator, settings=settings)


async def test_spoken_greeting_then_typed_turn_gives_two_answers(simulator, harnesses):
    simulator.transcripts.put("Hello there")
    simulator.responder = ScriptedResponder(
        [Reply(text="Hi! How can I help?"), Reply(text="Sure, here it is.")]
    )
    service = transcribing_service(simulator)
    context = LLMContext()
    pair = LLMContextAggregatorPair(context)
    seen = Recorder(FrameDirection.DOWNSTREAM)
    out = Recorder(FrameDirection.DOWNSTREAM)
    harness = harnesses(pair.user(), seen, service, out, pair.assistant())
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")

    await harness.send(*spoken_turn())
    await out.wait_for(LLMFullResponseEndFrame)
    # The aggregator writes the spoken turn into the context once the reply ended.
    await seen.wait_for(LLMContextFrame)
    await harness.send(
        LLMMessagesAppendFrame(
            messages=[{"role": "user", "content": "Tell me a joke"}], run_llm=True
        )
    )
    await out.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    # A request made for the mirrored transcript would precede the typed turn's one.
    assert conn.client_event_types.count("response.create") == 1
    assert conn.server_event_types.count("response.created") == 2
    assert len(out.of(LLMFullResponseEndFrame)) == 2
    typed = [e["item"] for e in conn.client_events if e.get("type") == "conversation.item.create"]
    assert [i["content"][0]["text"] for i in typed] == ["Tell me a joke"]


async def test_transcript_context_during_the_reply_does_not_ask_again(simulator, harnesses):
    simulator.transcripts.put("What time is it?")
    simulator.responder = ScriptedResponder([Reply(text="It is noon.")])
    service = transcribing_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await harness.send(*spoken_turn())
    await conn.wait_for_server_event("conversation.item.input_audio_transcription.completed")
    await harness.down.wait_for(LLMFullResponseEndFrame)
    # What the user aggregator pushes in realtime mode: the transcript as a new message,
    # then (assistant aggregator) the reply.
    context = LLMContext(messages=[{"role": "user", "content": "What time is it?"}])
    await harness.send(LLMContextFrame(context=context))
    await processed(harness, conn, 1)
    context.add_message({"role": "assistant", "content": "It is noon."})
    await harness.send(LLMContextFrame(context=context))
    await processed(harness, conn, 2)
    await harness.stop()

    assert conn.client_event_types.count("response.create") == 0
    assert conn.server_event_types.count("response.created") == 1


async def processed(harness, conn, count: int) -> None:
    """Wait until the frames sent so far were handled by the service.

    A marker item follows them; the socket keeps order, so any request those frames
    made reached the server before it.
    """
    marker = {"role": "system", "content": f"marker {count}"}
    await harness.send(LLMMessagesAppendFrame(messages=[marker], run_llm=False))
    await conn.wait_for_client_event("conversation.item.create", count=count)


def test_decision_asks_only_for_news_or_an_explicit_run():
    news = ContextChanges(creates=[(text_message_item("typed", "user"), None)], already_held=1)
    mirrored = ContextChanges(already_held=2)
    run_now = ContextChanges()
    assert downstream_context_wants_response(news, response_running=True)
    assert not downstream_context_wants_response(mirrored, response_running=False)
    assert downstream_context_wants_response(run_now, response_running=False)
    assert not downstream_context_wants_response(run_now, response_running=True)


def test_sync_counts_mirrored_messages():
    sync = new_sync()
    context = LLMContext(messages=[{"role": "system", "content": "Be brief."}])
    sync.set_context(view(context))
    sync.seed(packed=False)
    sync.remember_spoken("Hello there")
    context.add_message({"role": "user", "content": "Hello  there"})
    changes = context_changes(sync, context)
    assert changes.already_held == 1 and not changes.brings_something
    context.add_message({"role": "user", "content": "typed"})
    changes = context_changes(sync, context)
    assert changes.already_held == 0 and changes.brings_something
