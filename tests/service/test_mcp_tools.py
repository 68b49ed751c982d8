"""Remote MCP tools over a real socket: configuration, listings, calls, approvals.

The simulator plays the MCP servers (``RealtimeSimulator.mcp``). What the service sent
is asserted as the simulator received it; every client event is also checked against
the official schema by the ``simulator`` fixture.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    FunctionCallsStartedFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMMessagesAppendFrame,
    LLMMessagesUpdateFrame,
    LLMRunFrame,
    LLMSetToolsFrame,
    TTSTextFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection

from pipecat_realtime_openai import McpApprovalRequest, McpTool
from pipecat_realtime_openai.core.mcp import HANDLER_FAILED_REASON, NO_HANDLER_REASON
from pipecat_realtime_openai.protocol.session import SessionProperties
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import (
    FakeMcpTool,
    FunctionCall,
    McpCall,
    RealtimeSimulator,
    Reply,
    ScriptedResponder,
)
from tests.service.conftest import Recorder, make_service, wait_until

ROLL = McpCall("dice", "roll", {"sides": 6})


def dice_tool(**fields: Any) -> McpTool:
    return McpTool(server_label="dice", server_url="https://dice.example/mcp", **fields)


def said_roll(context: Any) -> Reply:
    return Reply(text=f"You rolled {context.last_mcp_output}.")


def serve_dice(simulator: RealtimeSimulator, result: Any = None) -> None:
    simulator.mcp.add_server(
        "dice",
        [
            FakeMcpTool("roll", result=result if result is not None else lambda a: {"value": 4}),
            FakeMcpTool("flip", result="heads", read_only=True),
        ],
    )


class FunctionFrames(BaseObserver):
    """What an observer sees of function calls (each frame once, at its first push)."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []

    async def on_push_frame(self, data: FramePushed) -> None:
        kinds = (FunctionCallsStartedFrame, FunctionCallInProgressFrame, FunctionCallResultFrame)
        if (
            isinstance(data.frame, kinds)
            and data.first_push
            and data.direction == FrameDirection.DOWNSTREAM
        ):
            self.frames.append(data.frame)


def item_creates(conn) -> list[dict[str, Any]]:
    return [e["item"] for e in conn.client_events if e.get("type") == "conversation.item.create"]


def spoken(recorder: Recorder) -> str:
    return "".join(frame.text for frame in recorder.of(TTSTextFrame))


async def start(simulator, harnesses, tool: McpTool, *, observer=None, **service_kwargs):
    service = make_service(
        simulator,
        settings=OpenAIRealtimeLLMService.Settings(
            session_properties=SessionProperties(tools=[tool])
        ),
        **service_kwargs,
    )
    harness = harnesses(service, observers=[observer] if observer else None)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("mcp_list_tools.completed")
    return service, harness, conn


async def ask(harness) -> None:
    await harness.send(
        LLMContextFrame(LLMContext(messages=[{"role": "user", "content": "Roll a die"}]))
    )


async def test_mcp_tools_reach_the_server_with_function_tools_and_round_trip(simulator, harnesses):
    async def weather(params: Any) -> None:
        await params.result_callback("sunny")

    schema = FunctionSchema(
        name="get_weather", description="Weather.", properties={}, required=[], handler=weather
    )
    mcp = dice_tool(
        authorization="tok-secret",
        headers={"X-Team": "bots"},
        allowed_tools=["roll"],
        require_approval={"never": {"tool_names": ["roll"]}},
        server_description="Rolls dice",
    )
    raw = {"type": "mcp", "server_label": "cal", "connector_id": "connector_googlecalendar"}
    serve_dice(simulator)
    service = make_service(
        simulator,
        settings=OpenAIRealtimeLLMService.Settings(
            session_properties=SessionProperties(tools=[schema, mcp, raw])
        ),
    )
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    update = await conn.wait_for_client_event("session.update")
    tools = update["session"]["tools"]
    assert [t["type"] for t in tools] == ["function", "mcp", "mcp"]
    assert tools[0]["name"] == "get_weather"
    assert tools[1] == {
        "type": "mcp",
        "server_label": "dice",
        "server_url": "https://dice.example/mcp",
        "authorization": "tok-secret",
        "headers": {"X-Team": "bots"},
        "allowed_tools": ["roll"],
        "require_approval": {"never": {"tool_names": ["roll"]}},
        "server_description": "Rolls dice",
    }
    assert tools[2] == raw
    updated = await conn.wait_for_server_event("session.updated")
    assert updated["session"]["tools"] == tools
    # Held as sent: nothing makes the service ask again.
    await conn.wait_for_server_event("mcp_list_tools.completed")
    await asyncio.sleep(0.1)
    await harness.stop()
    assert conn.client_event_types.count("session.update") == 1
    assert "tok-secret" not in repr(mcp)


async def test_a_listing_reaches_the_handler_and_a_failed_one_is_reported(simulator, harnesses):
    serve_dice(simulator)
    simulator.mcp.add_server("broken", [], reachable=False)
    simulator.responder = ScriptedResponder([Reply(text="Still here.")])
    broken = McpTool(server_label="broken", server_url="https://broken.example/mcp")
    service = make_service(
        simulator,
        settings=OpenAIRealtimeLLMService.Settings(
            session_properties=SessionProperties(tools=[dice_tool(), broken])
        ),
    )
    listed: list[tuple[str, list[str]]] = []

    @service.event_handler("on_mcp_tools_listed")
    async def on_listed(service: Any, server_label: str, tools: list[dict[str, Any]]) -> None:
        listed.append((server_label, [tool["name"] for tool in tools]))

    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    error = await harness.up.wait_for(ErrorFrame)
    assert "broken" in error.error and "listing its tools failed" in error.error
    assert not error.fatal
    await wait_until(lambda: bool(listed))
    assert listed == [("dice", ["roll", "flip"])]
    await ask(harness)
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    assert "Still here." in spoken(harness.down)
    assert "mcp_list_tools.failed" in conn.server_event_types


async def test_a_call_without_approval_runs_and_the_reply_uses_its_output(simulator, harnesses):
    serve_dice(simulator)
    simulator.responder = ScriptedResponder([Reply(mcp_calls=[ROLL]), said_roll])
    observer = FunctionFrames()
    _service, harness, conn = await start(
        simulator, harnesses, dice_tool(require_approval="never"), observer=observer
    )
    await ask(harness)
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    assert 'You rolled {"value": 4}.' in spoken(harness.down)
    # The server went on by itself: one response, nothing sent back for the call.
    assert conn.client_event_types.count("response.create") == 1
    assert [(i["type"], i.get("role")) for i in item_creates(conn)] == [("message", "user")]
    call_id = next(i["id"] for i in conn.items if i["type"] == "mcp_call")
    started, in_progress, result = observer.frames
    assert isinstance(started, FunctionCallsStartedFrame)
    assert [c.function_name for c in started.function_calls] == ["roll"]
    assert isinstance(in_progress, FunctionCallInProgressFrame)
    assert (in_progress.function_name, in_progress.tool_call_id) == ("roll", call_id)
    assert in_progress.arguments == {"sides": 6}
    assert isinstance(result, FunctionCallResultFrame)
    assert result.result == '{"value": 4}' and result.run_llm is False and result.error is None
    assert result.metadata["mcp_server_label"] == "dice"


async def test_an_approved_call_runs_and_the_bot_answers_with_its_result(simulator, harnesses):
    serve_dice(simulator)
    simulator.responder = ScriptedResponder([Reply(mcp_calls=[ROLL]), said_roll])
    asked: list[McpApprovalRequest] = []

    async def approve(request: McpApprovalRequest) -> bool:
        asked.append(request)
        return True

    service, harness, conn = await start(
        simulator, harnesses, dice_tool(require_approval="always"), mcp_approval_handler=approve
    )
    seen: list[McpApprovalRequest] = []

    @service.event_handler("on_mcp_approval_request")
    async def on_request(service: Any, request: McpApprovalRequest) -> None:
        seen.append(request)

    await ask(harness)
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    request_id = next(i["id"] for i in conn.items if i["type"] == "mcp_approval_request")
    assert asked == seen == [McpApprovalRequest(request_id, "dice", "roll", '{"sides": 6}')]
    assert asked[0].parsed_arguments() == {"sides": 6}
    answer = [i for i in item_creates(conn) if i["type"] == "mcp_approval_response"]
    assert answer == [
        {
            "id": answer[0]["id"],
            "type": "mcp_approval_response",
            "approval_request_id": request_id,
            "approve": True,
        }
    ]
    # The answer, then the response that runs the call.
    types = conn.client_event_types
    answer_at = next(
        i
        for i, e in enumerate(conn.client_events)
        if e.get("type") == "conversation.item.create"
        and e["item"]["type"] == "mcp_approval_response"
    )
    assert types[answer_at + 1] == "response.create"
    assert conn.state.mcp.approvals == {request_id: (True, None)}
    call = next(i for i in conn.items if i["type"] == "mcp_call")
    assert call["approval_request_id"] == request_id and call["output"] == '{"value": 4}'
    assert 'You rolled {"value": 4}.' in spoken(harness.down)


async def deny_round(simulator, harnesses, **service_kwargs) -> tuple[Any, Any]:
    serve_dice(simulator)
    simulator.responder = ScriptedResponder(
        [Reply(mcp_calls=[ROLL]), Reply(text="I may not roll.")]
    )
    _service, harness, conn = await start(
        simulator, harnesses, dice_tool(require_approval="always"), **service_kwargs
    )
    await ask(harness)
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    assert "I may not roll." in spoken(harness.down)
    assert conn.state.mcp.calls == []  # never ran
    assert not [i for i in conn.items if i["type"] == "mcp_call"]
    return harness, conn


async def test_a_denied_call_never_runs_and_the_bot_says_so(simulator, harnesses):
    def deny(request: McpApprovalRequest) -> tuple[bool, str]:
        return False, "Dice are not allowed here."

    harness, conn = await deny_round(simulator, harnesses, mcp_approval_handler=deny)
    assert list(conn.state.mcp.approvals.values()) == [(False, "Dice are not allowed here.")]
    assert not harness.up.of(ErrorFrame)


async def test_a_handler_that_raises_denies_and_reports_without_stopping(simulator, harnesses):
    def broken(request: McpApprovalRequest) -> bool:
        raise RuntimeError("approval service down")

    harness, conn = await deny_round(simulator, harnesses, mcp_approval_handler=broken)
    assert list(conn.state.mcp.approvals.values()) == [(False, HANDLER_FAILED_REASON)]
    errors = harness.up.of(ErrorFrame)
    assert len(errors) == 1 and "approval service down" in errors[0].error
    assert not errors[0].fatal


async def test_without_a_handler_every_approval_is_denied(simulator, harnesses):
    _harness, conn = await deny_round(simulator, harnesses)
    assert list(conn.state.mcp.approvals.values()) == [(False, NO_HANDLER_REASON)]


async def test_a_failed_call_is_reported_and_the_bot_goes_on(simulator, harnesses):
    def explode(arguments: dict[str, Any]) -> str:
        raise RuntimeError("dice fell off the table")

    serve_dice(simulator, result=explode)
    simulator.responder = ScriptedResponder([Reply(mcp_calls=[ROLL]), Reply(text="No luck.")])
    observer = FunctionFrames()
    _service, harness, conn = await start(
        simulator, harnesses, dice_tool(require_approval="never"), observer=observer
    )
    await ask(harness)
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    assert "response.mcp_call.failed" in conn.server_event_types
    errors = harness.up.of(ErrorFrame)
    assert len(errors) == 1 and "dice.roll failed" in errors[0].error
    assert "dice fell off the table" in errors[0].error and not errors[0].fatal
    result = observer.frames[-1]
    assert isinstance(result, FunctionCallResultFrame)
    assert result.error is not None and "dice fell off the table" in result.result["error"]
    assert "No luck." in spoken(harness.down)
    assert conn.client_event_types.count("response.create") == 1


async def test_the_context_round_trip_sends_nothing_the_server_holds(simulator, harnesses):
    serve_dice(simulator)
    simulator.responder = ScriptedResponder(
        [Reply(mcp_calls=[ROLL]), said_roll, Reply(text="Again: four.")]
    )
    context = LLMContext(messages=[{"role": "user", "content": "Roll a die"}])
    pair = LLMContextAggregatorPair(context)
    service = make_service(
        simulator,
        settings=OpenAIRealtimeLLMService.Settings(
            session_properties=SessionProperties(tools=[dice_tool(require_approval="never")])
        ),
    )
    out = Recorder(FrameDirection.DOWNSTREAM)
    harness = harnesses(pair.user(), service, out, pair.assistant())
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("mcp_list_tools.completed")
    await harness.send(LLMRunFrame())
    await out.wait_for(LLMFullResponseEndFrame)
    # The assistant aggregator wrote the call and its result into the context.
    await wait_until(lambda: any(m.get("role") == "tool" for m in context.get_messages()))
    call_id = next(i["id"] for i in conn.items if i["type"] == "mcp_call")
    tool_message = next(m for m in context.get_messages() if m.get("role") == "tool")
    assert tool_message["tool_call_id"] == call_id
    assert json.loads(tool_message["content"]) == '{"value": 4}'
    await harness.send(
        LLMMessagesAppendFrame([{"role": "user", "content": "Once more"}], run_llm=True)
    )
    await out.wait_for(LLMFullResponseEndFrame, count=2)
    await asyncio.sleep(0.1)
    await harness.stop()
    created = item_creates(conn)
    # The first user turn, the appended one: no function_call, no output, no late-result
    # note for the MCP call; and nothing the server holds was deleted.
    assert [(i["type"], i.get("role")) for i in created] == [
        ("message", "user"),
        ("message", "user"),
    ]
    assert "conversation.item.delete" not in conn.client_event_types
    assert [i["type"] for i in conn.items].count("mcp_call") == 1
    assert "Again: four." in spoken(out)


def test_mixed_tool_lists_keep_function_tools_and_carry_native_ones() -> None:
    from pipecat.adapters.llm.schemas.tools_schema import AdapterType, ToolsSchema
    from pydantic import ValidationError

    from pipecat_realtime_openai.settings import normalize_tools

    schema = FunctionSchema(name="f", description="F.", properties={}, required=[])
    raw = {"type": "mcp", "server_label": "cal", "connector_id": "connector_googlecalendar"}
    mixed = normalize_tools([schema, dice_tool(), raw])
    assert isinstance(mixed, ToolsSchema)
    assert mixed.standard_tools == [schema]
    assert mixed.custom_tools == {
        AdapterType.OPENAI: [
            {"type": "mcp", "server_label": "dice", "server_url": "https://dice.example/mcp"},
            raw,
        ]
    }
    assert normalize_tools([dice_tool()]) == [
        {"type": "mcp", "server_label": "dice", "server_url": "https://dice.example/mcp"}
    ]
    try:
        McpTool(server_label="nowhere")
    except ValidationError as exc:
        assert "server_url or a connector_id" in str(exc)
    else:
        raise AssertionError("an MCP tool without a server was accepted")


async def test_a_replaced_context_keeps_the_servers_tool_listing(simulator, harnesses):
    serve_dice(simulator)
    _service, harness, conn = await start(simulator, harnesses, dice_tool())

    async def update(content: str) -> None:
        messages = [{"role": "user", "content": content}]
        await harness.send(LLMMessagesUpdateFrame(messages=messages, run_llm=False))

    def kinds() -> list[tuple[str, Any]]:
        return [(i["type"], i.get("content", [{}])[0].get("text")) for i in conn.items]

    await update("One")
    await wait_until(lambda: kinds() == [("mcp_list_tools", None), ("message", "One")])
    await update("A fresh start")  # nothing in common: the old conversation goes
    await wait_until(lambda: kinds() == [("mcp_list_tools", None), ("message", "A fresh start")])
    await harness.stop()
    deleted = [e["item_id"] for e in conn.client_events if e["type"] == "conversation.item.delete"]
    assert len(deleted) == 1 and not deleted[0].startswith("mcpl_")


async def test_tools_set_at_runtime_may_hold_mcp_tools(simulator, harnesses):
    serve_dice(simulator)
    simulator.mcp.add_server("cal", [FakeMcpTool("events")])
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    schema = FunctionSchema(name="f", description="F.", properties={}, required=[])
    raw = {"type": "mcp", "server_label": "cal", "connector_id": "connector_googlecalendar"}
    await harness.send(LLMSetToolsFrame(tools=[schema, dice_tool(), raw]))
    update = await conn.wait_for_client_event("session.update", count=2)
    await conn.wait_for_server_event("mcp_list_tools.completed", count=2)
    await harness.stop()
    assert [t.get("server_label", t.get("name")) for t in update["session"]["tools"]] == [
        "f",
        "dice",
        "cal",
    ]
    assert not harness.up.of(ErrorFrame)


async def test_function_calls_and_mcp_calls_share_a_session(simulator, harnesses):
    async def weather(params: Any) -> None:
        await params.result_callback({"sky": "sunny"})

    serve_dice(simulator)
    simulator.responder = ScriptedResponder(
        [
            Reply(function_calls=[FunctionCall("get_weather", {}, call_id="call_w")]),
            Reply(mcp_calls=[ROLL]),
            said_roll,
        ]
    )
    schema = FunctionSchema(name="get_weather", description="W.", properties={}, required=[])
    service = make_service(
        simulator,
        settings=OpenAIRealtimeLLMService.Settings(
            session_properties=SessionProperties(
                tools=[schema, dice_tool(require_approval="never")]
            )
        ),
    )
    service.register_function("get_weather", weather)
    observer = FunctionFrames()
    harness = harnesses(service, observers=[observer])
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("mcp_list_tools.completed")
    await ask(harness)
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()
    outputs = [i for i in item_creates(conn) if i["type"] == "function_call_output"]
    assert [(o["call_id"], json.loads(o["output"])) for o in outputs] == [
        ("call_w", {"sky": "sunny"})
    ]
    assert conn.client_event_types.count("response.create") == 2
    results = [f for f in observer.frames if isinstance(f, FunctionCallResultFrame)]
    assert [(r.function_name, r.result) for r in results] == [
        ("get_weather", {"sky": "sunny"}),
        ("roll", '{"value": 4}'),
    ]
    assert 'You rolled {"value": 4}.' in spoken(harness.down)
