"""Function calls: parallel calls answered once, failing tools, intermediate results."""

import asyncio
import json

from pipecat.frames.frames import (
    ErrorFrame,
    FunctionCallResultFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMRunFrame,
    TTSTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai.testing import FunctionCall, Reply, ScriptedResponder
from tests.service.conftest import Recorder, make_service

TWO_CALLS = Reply(
    function_calls=[
        FunctionCall("get_weather", {"city": "Paris"}, call_id="call_weather"),
        FunctionCall("get_time", {"zone": "CET"}, call_id="call_time"),
    ]
)


def after_tools(context) -> Reply:
    outputs = context.function_outputs
    return Reply(text=f"Weather {outputs.get('call_weather')} time {outputs.get('call_time')}")


async def weather(params: FunctionCallParams) -> None:
    await params.result_callback({"sky": "sunny"})


async def clock(params: FunctionCallParams) -> None:
    await params.result_callback({"time": "noon"})


def outputs_and_creates(conn) -> list[str]:
    marks = []
    for event in conn.client_events:
        if event.get("type") == "response.create":
            marks.append("create")
        elif event.get("type") == "conversation.item.create":
            item = event["item"]
            if item["type"] == "function_call_output":
                marks.append(f"output:{item['call_id']}")
    return marks


async def run_tool_round(simulator, harnesses, with_aggregators: bool):
    simulator.responder = ScriptedResponder([TWO_CALLS, after_tools])
    service = make_service(simulator)
    service.register_function("get_weather", weather)
    service.register_function("get_time", clock)
    context = LLMContext(messages=[{"role": "user", "content": "Weather and time in Paris?"}])
    # Records what the service itself pushes (the assistant aggregator consumes some).
    out = Recorder(FrameDirection.DOWNSTREAM)
    if with_aggregators:
        pair = LLMContextAggregatorPair(context)
        harness = harnesses(pair.user(), service, out, pair.assistant())
    else:
        harness = harnesses(service, out)
    await harness.start()
    if with_aggregators:
        await harness.send(LLMRunFrame())
    else:
        await harness.send(LLMContextFrame(context=context))
    await out.wait_for(LLMFullResponseEndFrame, count=2)
    conn = simulator.connections[0]
    await harness.stop()
    return out, conn


async def test_two_parallel_calls_get_one_response_create(simulator, harnesses):
    out, conn = await run_tool_round(simulator, harnesses, with_aggregators=False)
    assert outputs_and_creates(conn) in (
        ["create", "output:call_weather", "output:call_time", "create"],
        ["create", "output:call_time", "output:call_weather", "create"],
    )
    outputs = {
        e["item"]["call_id"]: json.loads(e["item"]["output"])
        for e in conn.client_events
        if e.get("type") == "conversation.item.create"
        and e["item"]["type"] == "function_call_output"
    }
    assert outputs == {"call_weather": {"sky": "sunny"}, "call_time": {"time": "noon"}}
    assert len(out.of(LLMFullResponseStartFrame)) == 2
    spoken = "".join(f.text for f in out.of(TTSTextFrame))
    assert "sunny" in spoken and "noon" in spoken


async def test_tool_round_through_aggregators_speaks_once(simulator, harnesses):
    out, conn = await run_tool_round(simulator, harnesses, with_aggregators=True)
    assert outputs_and_creates(conn).count("create") == 2
    assert conn.server_event_types.count("response.created") == 2
    assert len(out.of(LLMFullResponseStartFrame)) == 2
    assert len(out.of(LLMFullResponseEndFrame)) == 2


async def test_failing_tool_sends_error_result_and_conversation_goes_on(simulator, harnesses):
    simulator.responder = ScriptedResponder(
        [Reply(function_calls=[FunctionCall("explode", {}, call_id="call_x")]), Reply(text="Sorry")]
    )

    async def explode(params: FunctionCallParams) -> None:
        raise RuntimeError("kaboom")

    service = make_service(simulator)
    service.register_function("explode", explode)
    harness = harnesses(service)
    await harness.start()
    await harness.send(
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "Go"}]))
    )
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    conn = simulator.connections[0]
    output = next(
        e["item"]["output"]
        for e in conn.client_events
        if e.get("type") == "conversation.item.create"
        and e["item"]["type"] == "function_call_output"
    )
    assert "explode" in output and "failed" in output
    assert harness.up.of(ErrorFrame)
    assert outputs_and_creates(conn) == ["create", "output:call_x", "create"]
    assert harness.down.of(FunctionCallResultFrame)


async def test_unparseable_arguments_are_reported_to_the_model(simulator, harnesses):
    simulator.responder = ScriptedResponder(
        [Reply(function_calls=[FunctionCall("get_weather", "{not json", call_id="call_bad")])]
    )
    service = make_service(simulator)
    service.register_function("get_weather", weather)
    harness = harnesses(service)
    await harness.start()
    await harness.send(
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "x"}]))
    )
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    conn = simulator.connections[0]
    output = next(
        e["item"]["output"]
        for e in conn.client_events
        if e.get("type") == "conversation.item.create"
        and e["item"]["type"] == "function_call_output"
    )
    assert output.startswith("Invalid JSON arguments")


async def test_interrupted_tool_is_settled_as_cancelled_without_a_response(simulator, harnesses):
    simulator.responder = ScriptedResponder(
        [Reply(function_calls=[FunctionCall("slow", {}, call_id="call_slow")])]
    )
    started = asyncio.Event()

    async def slow(params: FunctionCallParams) -> None:
        started.set()
        await asyncio.sleep(30)

    service = make_service(simulator)
    service.register_function("slow", slow)
    harness = harnesses(service)
    await harness.start()
    await harness.send(
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "x"}]))
    )
    await asyncio.wait_for(started.wait(), 5)
    conn = simulator.connections[0]
    await conn.wait_for_server_event("response.done")
    await harness.send(InterruptionFrame())
    created = await conn.wait_for_client_event("conversation.item.create", count=2)
    await asyncio.sleep(0.1)
    await harness.stop()
    item = created["item"]
    assert item.pop("id").startswith("item_"), "the client names the items it creates"
    assert item == {"type": "function_call_output", "call_id": "call_slow", "output": "CANCELLED"}
    assert conn.client_event_types.count("response.create") == 1


async def test_result_of_a_call_from_before_a_reconnect_answers_the_restored_call(
    simulator, harnesses
):
    simulator.responder = ScriptedResponder(
        [Reply(function_calls=[FunctionCall("slow", {}, call_id="call_old")]), Reply(text="Done")]
    )
    release = asyncio.Event()

    async def slow(params: FunctionCallParams) -> None:
        await release.wait()
        await params.result_callback({"status": "finished"})

    service = make_service(simulator)
    service.register_function("slow", slow, cancel_on_interruption=False)
    harness = harnesses(service)
    await harness.start()
    await harness.send(
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "x"}]))
    )
    first = await simulator.wait_for_connection()
    await first.wait_for_server_event("response.done")
    first.expire_session()
    second = await simulator.wait_for_connection(count=2)
    await second.wait_for_server_event("session.updated")
    release.set()
    await second.wait_for_client_event("response.create")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    created = [
        e["item"] for e in second.client_events if e.get("type") == "conversation.item.create"
    ]
    # The restore recreates the call, so its result goes in as the call's output.
    assert [i["type"] for i in created] == ["message", "function_call", "function_call_output"]
    assert created[1]["call_id"] == created[2]["call_id"] == "call_old"
    assert "finished" in created[2]["output"]
    assert second.client_event_types.count("response.create") == 1
    assert "error" not in second.server_event_types
