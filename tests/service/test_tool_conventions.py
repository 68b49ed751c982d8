"""Pipecat's function-call conventions, as its other LLM services follow them.

An empty result (None) or a result whose properties say ``run_llm=False`` does not make
the bot speak again (an "end the call" tool must not talk after hanging up), and
``LLMSetToolsFrame`` keeps the registered handlers in step with the advertised tools.
"""

from __future__ import annotations

import asyncio

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import LLMContextFrame, LLMFullResponseEndFrame, LLMSetToolsFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams, FunctionCallResultProperties

from pipecat_realtime_openai.testing import FunctionCall, Reply, ScriptedResponder
from tests.service.conftest import make_service
from tests.service.test_tools import outputs_and_creates


async def run_round(simulator, harnesses, handlers: dict, calls: list[FunctionCall]):
    """One tool round; returns the connection once every output went out."""
    simulator.responder = ScriptedResponder([Reply(function_calls=calls), Reply(text="Done.")])
    service = make_service(simulator)
    for name, handler in handlers.items():
        service.register_function(name, handler)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await harness.send(LLMContextFrame(LLMContext(messages=[{"role": "user", "content": "Go"}])))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await conn.wait_for_client_event("conversation.item.create", count=len(calls))
    await asyncio.sleep(0.2)  # a response asked for would have gone out by now
    await harness.stop()
    return conn


async def hang_up(params: FunctionCallParams) -> None:
    await params.result_callback(None)


async def quiet_result(params: FunctionCallParams) -> None:
    properties = FunctionCallResultProperties(run_llm=False)
    await params.result_callback({"saved": True}, properties=properties)


async def lookup(params: FunctionCallParams) -> None:
    await params.result_callback({"answer": 42})


async def test_a_tool_with_no_result_does_not_make_the_bot_speak(simulator, harnesses):
    conn = await run_round(
        simulator, harnesses, {"end_call": hang_up}, [FunctionCall("end_call", {})]
    )
    assert outputs_and_creates(conn) == ["create", f"output:{conn_call_id(conn)}"]


async def test_run_llm_false_in_the_result_properties_keeps_the_bot_quiet(simulator, harnesses):
    conn = await run_round(simulator, harnesses, {"save": quiet_result}, [FunctionCall("save", {})])
    assert outputs_and_creates(conn) == ["create", f"output:{conn_call_id(conn)}"]


async def test_a_round_is_answered_when_one_of_its_results_asks(simulator, harnesses):
    calls = [
        FunctionCall("end_call", {}, call_id="c_quiet"),
        FunctionCall("lookup", {}, call_id="c_data"),
    ]
    conn = await run_round(simulator, harnesses, {"end_call": hang_up, "lookup": lookup}, calls)
    marks = outputs_and_creates(conn)
    assert marks.count("create") == 2, marks
    assert marks[-1] == "create" and set(marks[1:3]) == {"output:c_quiet", "output:c_data"}


def conn_call_id(conn) -> str:
    done = [e for e in conn.server_events if e["type"] == "response.function_call_arguments.done"]
    return done[0]["call_id"]


async def test_an_empty_tool_set_drops_the_handlers_of_the_old_one(simulator, harnesses):
    async def handler(params: FunctionCallParams) -> None:
        await params.result_callback("ok")

    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    schema = FunctionSchema(
        name="book", description="Book it.", properties={}, required=[], handler=handler
    )
    await harness.send(LLMSetToolsFrame(tools=ToolsSchema(standard_tools=[schema])))
    await conn.wait_for_client_event("session.update", count=2)
    assert service.has_function("book")
    await harness.send(LLMSetToolsFrame(tools=[]))
    await conn.wait_for_client_event("session.update", count=3)
    await harness.stop()
    assert not service.has_function("book")
    assert conn.session["tools"] == []
