"""The simulator's MCP servers, in memory: listings, calls, approvals, refusals."""

from __future__ import annotations

from typing import Any

from pipecat_realtime_openai.protocol.official import official_server_event_error
from pipecat_realtime_openai.testing import (
    FakeMcpTool,
    McpCall,
    McpRegistry,
    Reply,
    ScriptedResponder,
)
from pipecat_realtime_openai.testing.session_state import RealtimeSessionState

ROLL = McpCall("dice", "roll", {"sides": 6})


def dice(**fields: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": "dice", "server_url": "https://d.example", **fields}


def state(*replies: Any, tools: list[dict[str, Any]] | None = None) -> RealtimeSessionState:
    registry = McpRegistry()
    registry.add_server(
        "dice",
        [
            FakeMcpTool("roll", result=lambda a: {"value": a.get("sides", 0) - 2}),
            FakeMcpTool("flip", result="heads", read_only=True),
        ],
    )
    registry.add_server("down", [], reachable=False)
    sim = RealtimeSessionState("gpt-realtime-2.1", ScriptedResponder(replies), mcp=registry)
    if tools is not None:
        sim.receive({"type": "session.update", "session": {"type": "realtime", "tools": tools}})
    return sim


def run(sim: RealtimeSessionState) -> list[dict[str, Any]]:
    assert sim.receive({"type": "response.create"}) == []
    events: list[dict[str, Any]] = []
    while (step := sim.next_response_step()) is not None:
        events += step
    return events


def official(events: list[dict[str, Any]]) -> None:
    problems = [official_server_event_error(e) for e in events]
    assert [p for p in problems if p] == []


def test_an_mcp_tool_without_a_label_or_a_server_is_refused() -> None:
    sim = state()
    for tool in ({"type": "mcp", "server_url": "https://x"}, {"type": "mcp", "server_label": "x"}):
        (error,) = sim.receive(
            {"type": "session.update", "session": {"type": "realtime", "tools": [tool]}}
        )
        assert error["type"] == "error"
        assert error["error"]["param"].startswith("session.tools.0")
    assert "server_url" in error["error"]["message"]
    assert sim.session["tools"] == []


def test_listings_follow_allowed_tools_and_a_server_that_cannot_be_reached_fails() -> None:
    sim = state()
    events = sim.receive(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "tools": [dice(allowed_tools={"read_only": True}), dice(server_label="down")],
            },
        }
    )
    official(events)
    assert [e["type"] for e in events] == [
        "session.updated",
        *["conversation.item.added", "mcp_list_tools.in_progress"],
        *["mcp_list_tools.completed", "conversation.item.done"],
        *["conversation.item.added", "mcp_list_tools.in_progress"],
        *["mcp_list_tools.failed", "conversation.item.done"],
    ]
    assert [t["name"] for t in events[4]["item"]["tools"]] == ["flip"]
    assert events[8]["item"]["tools"] == []
    # Listed once per connection: another update lists nothing again.
    again = sim.receive({"type": "session.update", "session": {"type": "realtime"}})
    assert [e["type"] for e in again] == ["session.updated"]


def test_a_call_without_approval_runs_and_the_response_goes_on() -> None:
    sim = state(
        Reply(mcp_calls=[ROLL]),
        lambda ctx: Reply(text=f"Got {ctx.last_mcp_output}"),
        tools=[dice(require_approval="never")],
    )
    events = run(sim)
    official(events)
    done = events[-1]["response"]
    assert [i["type"] for i in done["output"]] == ["mcp_call", "message"]
    assert done["output"][0]["output"] == '{"value": 4}'
    assert done["output"][1]["content"][0]["transcript"] == 'Got {"value": 4}'
    assert "response.mcp_call.completed" in [e["type"] for e in events]


def test_approval_ends_the_response_and_an_approval_runs_the_call_next() -> None:
    sim = state(
        Reply(mcp_calls=[ROLL]),
        lambda ctx: Reply(text=f"Got {ctx.last_mcp_output}"),
        tools=[dice(require_approval={"never": {"tool_names": ["flip"]}})],
    )
    first = run(sim)
    official(first)
    (request,) = first[-1]["response"]["output"]
    assert request["type"] == "mcp_approval_request" and request["arguments"] == '{"sides": 6}'
    assert sim.mcp.calls == []
    answer = {
        "type": "conversation.item.create",
        "item": {
            "id": "item_a",
            "type": "mcp_approval_response",
            "approval_request_id": request["id"],
            "approve": True,
        },
    }
    assert [e["type"] for e in sim.receive(answer)] == [
        "conversation.item.added",
        "conversation.item.done",
    ]
    second = run(sim)
    official(second)
    call, message = second[-1]["response"]["output"]
    assert call["approval_request_id"] == request["id"] and call["output"] == '{"value": 4}'
    assert message["content"][0]["transcript"] == 'Got {"value": 4}'
    assert sim.mcp.approvals == {request["id"]: (True, None)}


def test_a_denial_is_recorded_and_an_answer_to_nothing_is_refused() -> None:
    sim = state(Reply(mcp_calls=[ROLL]), Reply(text="No dice."), tools=[dice()])
    (request,) = run(sim)[-1]["response"]["output"]
    deny = {
        "type": "mcp_approval_response",
        "id": "item_d",
        "approval_request_id": request["id"],
        "approve": False,
        "reason": "no",
    }
    sim.receive({"type": "conversation.item.create", "item": deny})
    (message,) = run(sim)[-1]["response"]["output"]
    assert message["type"] == "message" and sim.mcp.calls == []
    assert sim.mcp.approvals == {request["id"]: (False, "no")}
    (error,) = sim.receive({"type": "conversation.item.create", "item": {**deny, "id": "item_e"}})
    assert error["error"]["param"] == "item.approval_request_id"


def test_a_tool_that_raises_fails_its_call_with_the_error() -> None:
    sim = state(Reply(mcp_calls=[McpCall("dice", "nope")]), tools=[dice(require_approval="never")])
    events = run(sim)
    official(events)
    assert "response.mcp_call.failed" in [e["type"] for e in events]
    call = events[-1]["response"]["output"][0]
    assert call["error"]["type"] == "protocol_error" and "output" not in call
