"""Frame contract details: multi-item responses, metrics, event handlers, compatibility."""

from __future__ import annotations

import warnings

from pipecat.frames.frames import (
    FunctionCallResultProperties,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    MetricsFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.metrics.metrics import LLMUsageMetricsData, ProcessingMetricsData, TTFBMetricsData
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.openai.realtime import events as pipecat_events

from pipecat_realtime_openai.testing import FunctionCall, Reply, ScriptedResponder
from tests.service.conftest import make_service


def hello(text: str = "Hello") -> LLMContextFrame:
    return LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": text}]))


def metrics_of(frames, kind) -> list:
    return [d for f in frames if isinstance(f, MetricsFrame) for d in f.data if isinstance(d, kind)]


async def test_several_message_items_make_one_tts_pair(simulator, harnesses):
    simulator.responder = ScriptedResponder([Reply(text=["First part.", "Second part."])])
    harness = harnesses(make_service(simulator))
    await harness.start()
    await harness.send(hello())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    conn = simulator.connections[0]
    items = {e["item_id"] for e in conn.server_events if e["type"] == "response.output_audio.delta"}
    assert len(items) == 2
    down = harness.down
    assert len(down.of(TTSStartedFrame)) == 1 and len(down.of(TTSStoppedFrame)) == 1
    assert len(down.of(LLMFullResponseStartFrame)) == 1
    spoken = "".join(f.text for f in down.of(TTSTextFrame))
    assert "First part." in spoken and "Second part." in spoken


async def test_metrics_ttfb_processing_and_usage(simulator, harnesses):
    harness = harnesses(make_service(simulator))
    await harness.start()
    await harness.send(hello())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.send(LLMContextFrame(context=LLMContext(messages=[])))
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    frames = harness.down.frames
    assert metrics_of(frames, TTFBMetricsData)
    assert metrics_of(frames, ProcessingMetricsData)
    usage = [d.value for d in metrics_of(frames, LLMUsageMetricsData)]
    conn = simulator.connections[0]
    done = [e["response"]["usage"] for e in conn.server_events if e["type"] == "response.done"]
    assert len(usage) == len(done) == 2
    for reported, wire in zip(usage, done, strict=True):
        assert reported.prompt_tokens == wire["input_tokens"]
        assert reported.completion_tokens == wire["output_tokens"]
        assert reported.total_tokens == wire["total_tokens"]
        assert reported.output_audio_tokens == wire["output_token_details"]["audio_tokens"]
        assert reported.cache_read_input_tokens == wire["input_token_details"]["cached_tokens"]
        cached = wire["input_token_details"]["cached_tokens_details"]["audio_tokens"]
        assert reported.cache_read_input_audio_tokens == cached


async def test_conversation_item_event_handlers(simulator, harnesses):
    service = make_service(simulator)
    created: list[str] = []
    updated: list[str] = []

    @service.event_handler("on_conversation_item_created")
    async def on_created(service, item_id, item):
        created.append(item_id)

    @service.event_handler("on_conversation_item_updated")
    async def on_updated(service, item_id, item):
        updated.append(item_id)

    harness = harnesses(service)
    await harness.start()
    await harness.send(hello())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    ids = [item["id"] for item in simulator.connections[0].items]
    assert set(ids) <= set(created) and set(ids) <= set(updated)


async def test_built_in_style_constructor_arguments(simulator, harnesses):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        service = make_service(
            simulator,
            model="gpt-realtime",
            session_properties=pipecat_events.SessionProperties(
                instructions="Speak like a pirate.",
                audio=pipecat_events.AudioConfiguration(
                    output=pipecat_events.AudioOutput(voice="ash")
                ),
            ),
        )
    messages = " ".join(str(w.message) for w in caught)
    assert "(model=...)` is deprecated" in messages
    assert "(session_properties=...)` is deprecated" in messages
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    update = (await conn.wait_for_client_event("session.update"))["session"]
    await harness.stop()
    assert conn.model == "gpt-realtime"
    assert update["instructions"] == "Speak like a pirate."
    assert update["audio"]["output"]["voice"] == "ash"
    assert service.settings.system_instruction == "Speak like a pirate."


async def test_reset_conversation_reconnects_and_reseeds(simulator, harnesses):
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    await harness.send(hello("Remember me"))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await service.reset_conversation()
    second = await simulator.wait_for_connection(count=2)
    item = await second.wait_for_client_event("conversation.item.create")
    await harness.stop()
    assert item["item"]["content"][0]["text"] == "Remember me"
    assert "response.create" not in second.client_event_types


async def test_async_tool_intermediate_result_goes_in_as_a_message(simulator, harnesses):
    simulator.responder = ScriptedResponder(
        [
            Reply(function_calls=[FunctionCall("search", {"q": "x"}, call_id="call_s")]),
            Reply(text="Found"),
        ]
    )

    async def search(params: FunctionCallParams) -> None:
        await params.result_callback(
            {"progress": "half"}, properties=FunctionCallResultProperties(is_final=False)
        )
        await params.result_callback({"hits": 3})

    service = make_service(simulator)
    service.register_function("search", search, cancel_on_interruption=False)
    harness = harnesses(service)
    await harness.start()
    await harness.send(hello("Search"))
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    conn = simulator.connections[0]
    created = [e["item"] for e in conn.client_events if e.get("type") == "conversation.item.create"]
    kinds = [(i["type"], i.get("role")) for i in created]
    assert kinds[-2:] == [("message", "system"), ("function_call_output", None)]
    assert "half" in created[-2]["content"][0]["text"]
    assert conn.client_event_types.count("response.create") == 2


async def test_send_client_event_accepts_ours_pipecats_and_dicts(simulator, harnesses):
    from pipecat_realtime_openai import events

    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await service.send_client_event(
        pipecat_events.ConversationItemCreateEvent(
            item=pipecat_events.ConversationItem(
                type="message",
                role="user",
                content=[pipecat_events.ItemContent(type="input_text", text="from pipecat")],
            )
        )
    )
    await service.send_client_event(
        events.ConversationItemCreateEvent(
            item=events.ConversationItem(
                type="message",
                role="system",
                content=[events.ItemContent(type="input_text", text="from ours")],
            )
        )
    )
    await service.send_client_event({"type": "input_audio_buffer.clear"})
    await conn.wait_for_client_event("input_audio_buffer.clear")
    await harness.stop()
    texts = [i["content"][0]["text"] for i in conn.items]
    assert texts == ["from pipecat", "from ours"]


async def test_reset_mid_response_closes_its_frames(simulator, harnesses):
    simulator.pace = "realtime"
    simulator.responder = ScriptedResponder([Reply(text="A long answer that keeps going " * 4)])
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    await harness.send(hello())
    await harness.down.wait_for(TTSStartedFrame)
    await service.reset_conversation()
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await simulator.wait_for_connection(count=2)
    await harness.stop()
    down = harness.down
    assert len(down.of(LLMFullResponseStartFrame)) == len(down.of(LLMFullResponseEndFrame)) == 1
    assert len(down.of(TTSStartedFrame)) == len(down.of(TTSStoppedFrame)) == 1
