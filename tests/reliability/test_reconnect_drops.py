"""Dropped connections: the service reconnects, restores the conversation, answers once.

Every test drops the simulator connection at an exact point, then checks that the new
connection holds the old conversation (``assert_restored``), that the frames of a cut
response were closed, and that the pipeline never saw a fatal error.
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    FunctionCallResultFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai.testing import FunctionCall, Reply, ScriptedResponder
from tests.reliability.test_reconnect_support import (
    assert_no_fatal_error,
    assert_restored,
    first_context,
    said,
    started,
)
from tests.service.conftest import harnesses, simulator

__all__ = ["harnesses", "simulator"]


def item_creates(conn) -> list[dict]:
    return [e["item"] for e in conn.client_events if e.get("type") == "conversation.item.create"]


async def test_drop_mid_response_closes_its_frames_and_answers_again(simulator, harnesses):
    simulator.responder = ScriptedResponder(
        [Reply(text="Hello there, nice to meet you."), Reply(text="Sorry, I was cut off.")]
    )
    _service, harness, first, events = await started(simulator, harnesses)
    first.drop_after_event("response.output_audio.delta")
    await harness.send(first_context("Hi!"))
    second = await simulator.wait_for_connection(count=2)
    await events.wait(reconnected=1)
    await second.wait_for_server_event("response.done")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    assert_restored(first, second)
    assert [i["id"] for i in item_creates(second)] == [first.items[0]["id"]]
    # The cut response was closed downstream, and asked for again exactly once.
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 2
    assert len(harness.down.of(LLMFullResponseEndFrame)) == 2
    assert len(harness.down.of(TTSStartedFrame)) == len(harness.down.of(TTSStoppedFrame)) == 2
    assert second.client_event_types.count("response.create") == 1
    info = events.reconnected[0]
    assert info.attempt == 1 and "unexpectedly" in info.reason and info.downtime > 0
    assert_no_fatal_error(harness)


async def test_drop_before_the_server_answers_a_turn_asks_for_the_answer(simulator, harnesses):
    simulator.responder = ScriptedResponder([Reply(text="One."), Reply(text="Two.")])
    _service, harness, first, _events = await started(simulator, harnesses)
    await harness.send(first_context("Count with me."))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await first.wait_for_server_event("response.done")
    # The next request reaches the server, whose response.created never comes back.
    first.drop_after_event("conversation.item.done", count=3)
    await harness.send(said("Next number?"))
    second = await simulator.wait_for_connection(count=2)
    await second.wait_for_server_event("response.done")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=3)
    await harness.stop()

    assert_restored(first, second)
    assert second.client_event_types.count("response.create") == 1
    # The request that was cut got its closing frame; the new one its own pair.
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 3
    assert len(harness.down.of(LLMFullResponseEndFrame)) == 3
    assert_no_fatal_error(harness)


async def test_drop_mid_arguments_asks_again_and_the_call_is_made_once(simulator, harnesses):
    call = FunctionCall("get_weather", {"city": "Oslo"}, call_id="call_cut")
    again = FunctionCall("get_weather", {"city": "Oslo"}, call_id="call_again")
    simulator.responder = ScriptedResponder(
        [Reply(function_calls=[call]), Reply(function_calls=[again]), Reply(text="Snowing.")]
    )
    runs: list[str] = []

    async def get_weather(params: FunctionCallParams) -> None:
        runs.append(params.tool_call_id)
        await params.result_callback({"sky": "snow"})

    service, harness, first, _events = await started(simulator, harnesses)
    service.register_function("get_weather", get_weather)
    first.drop_after_event("response.function_call_arguments.delta")
    await harness.send(first_context("Weather in Oslo?"))
    second = await simulator.wait_for_connection(count=2)
    await second.wait_for_server_event("response.done", count=2)
    await harness.stop()

    assert_restored(first, second)
    # The half-streamed call never ran and was not restored; the model called again.
    assert runs == ["call_again"]
    assert "call_cut" not in str(item_creates(second))
    assert [i["type"] for i in second.items][-3:] == [
        "function_call",
        "function_call_output",
        "message",
    ]
    assert_no_fatal_error(harness)


async def test_result_arriving_during_the_outage_is_delivered_after_restore(simulator, harnesses):
    call = FunctionCall("lookup", {"q": "x"}, call_id="call_slow")
    simulator.responder = ScriptedResponder([Reply(function_calls=[call]), Reply(text="Found.")])
    release = asyncio.Event()

    async def lookup(params: FunctionCallParams) -> None:
        await release.wait()
        await params.result_callback({"answer": 42})

    service, harness, first, events = await started(simulator, harnesses)
    service.register_function("lookup", lookup, cancel_on_interruption=False)
    first.drop_after_event("response.function_call_arguments.done")
    await harness.send(first_context("Look it up."))
    await events.wait(reconnecting=1)
    simulator.faults.refuse_connections = 10**6  # keep the outage open
    release.set()
    await harness.down.wait_for(FunctionCallResultFrame)
    simulator.faults.refuse_connections = 0
    await events.wait(reconnected=1)
    second = simulator.connections[-1]
    await second.wait_for_server_event("response.done")
    await harness.stop()

    created = item_creates(second)
    assert [i["type"] for i in created] == ["message", "function_call", "function_call_output"]
    assert created[2] == {
        "type": "function_call_output",
        "call_id": "call_slow",
        "output": '{"answer": 42}',
    }
    # Restore first, then the result, then the one response the result asked for.
    types = [t for t in second.client_event_types if t != "input_audio_buffer.append"]
    assert types[-1] == "response.create" and types.count("response.create") == 1
    assert "error" not in second.server_event_types
    assert_no_fatal_error(harness)
