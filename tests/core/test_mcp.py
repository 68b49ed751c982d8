"""MCP decisions of the core, without sockets: each piece of news once, approvals answered."""

from __future__ import annotations

from typing import Any

import pytest

from pipecat_realtime_openai.core.actions import (
    McpApprovalAsked,
    McpCallEnded,
    McpCallStarted,
    Notify,
    ReportError,
)
from pipecat_realtime_openai.core.mcp import (
    McpApprovalRequest,
    McpDecision,
    decision_from_answer,
    error_text,
)
from pipecat_realtime_openai.protocol.official import official_client_event_error
from tests.core.session_kit import Kit, response, sent

CALL = {
    "id": "mcp_1",
    "type": "mcp_call",
    "server_label": "dice",
    "name": "roll",
    "arguments": "",
}
REQUEST = {
    "id": "mcpr_1",
    "type": "mcp_approval_request",
    "server_label": "dice",
    "name": "roll",
    "arguments": '{"sides": 6}',
}


def of(actions: list[Any], kind: type) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]


def item_events(kit: Kit, item: dict[str, Any], *, done: bool) -> list[Any]:
    """Every copy of an item the server sends: conversation and response output."""
    suffix = "done" if done else "added"
    actions = kit.event(f"conversation.item.{suffix}", item=item)
    actions += kit.event(f"response.output_item.{suffix}", response_id="resp_1", item=item)
    return actions


def test_answers_are_read_as_bools_or_pairs_and_anything_else_is_refused() -> None:
    assert decision_from_answer(True) == McpDecision(True)
    assert decision_from_answer((False, "no")) == McpDecision(False, "no")
    assert decision_from_answer((True, None)) == McpDecision(True)
    for bad in ("yes", 1, None, (True,), ("no", "x"), (True, 3)):
        with pytest.raises(TypeError):
            decision_from_answer(bad)


def test_error_objects_become_one_line() -> None:
    assert error_text({"type": "protocol_error", "code": -32602, "message": "Unknown tool"}) == (
        "protocol_error -32602: Unknown tool"
    )
    assert error_text({"type": "tool_execution_error", "message": "boom"}) == (
        "tool_execution_error: boom"
    )
    assert error_text(None) == "the call failed"


def test_a_call_starts_once_and_ends_once_whatever_copies_arrive() -> None:
    kit = Kit()
    kit.connect()
    kit.event("response.created", response=response("resp_1"))
    actions = item_events(kit, CALL, done=False)
    actions += kit.event(
        "response.mcp_call_arguments.delta", response_id="resp_1", item_id="mcp_1", delta='{"s'
    )
    actions += kit.event(
        "response.mcp_call_arguments.done",
        response_id="resp_1",
        item_id="mcp_1",
        arguments='{"sides": 6}',
    )
    actions += kit.event("response.mcp_call.in_progress", item_id="mcp_1", output_index=0)
    actions += kit.event("response.mcp_call.completed", item_id="mcp_1", output_index=0)
    finished = {**CALL, "arguments": '{"sides": 6}', "output": "4"}
    actions += item_events(kit, finished, done=True)
    started, ended = of(actions, McpCallStarted), of(actions, McpCallEnded)
    assert [s.call.arguments for s in started] == ['{"sides": 6}']
    assert (started[0].call.call_id, started[0].call.server_label) == ("mcp_1", "dice")
    assert [(e.call.output, e.call.error) for e in ended] == [("4", None)]
    assert not of(actions, ReportError)


def test_a_call_known_only_from_its_finished_item_still_starts_before_it_ends() -> None:
    kit = Kit()
    kit.connect()
    actions = item_events(kit, {**CALL, "arguments": "{}", "output": "ok"}, done=True)
    assert [type(a).__name__ for a in actions if isinstance(a, McpCallStarted | McpCallEnded)] == [
        "McpCallStarted",
        "McpCallEnded",
    ]


def test_a_failed_call_ends_with_its_error_and_is_reported_not_fatal() -> None:
    kit = Kit()
    kit.connect()
    item_events(kit, CALL, done=False)
    kit.event("response.mcp_call.failed", item_id="mcp_1")
    error = {"type": "http_error", "code": 502, "message": "Bad gateway"}
    actions = item_events(kit, {**CALL, "arguments": "{}", "error": error}, done=True)
    (ended,) = of(actions, McpCallEnded)
    assert ended.call.output is None and ended.call.error == "http_error 502: Bad gateway"
    (report,) = of(actions, ReportError)
    assert "dice.roll failed" in report.message and not report.fatal


def test_the_failed_event_alone_makes_the_call_a_failure() -> None:
    kit = Kit()
    kit.connect()
    item_events(kit, CALL, done=False)
    kit.event("response.mcp_call.failed", item_id="mcp_1")
    (ended,) = of(item_events(kit, {**CALL, "arguments": "{}"}, done=True), McpCallEnded)
    assert ended.call.error == "the call failed"


def test_a_result_frame_for_an_mcp_call_sends_nothing() -> None:
    kit = Kit()
    kit.connect()
    item_events(kit, {**CALL, "arguments": "{}", "output": "4"}, done=True)
    assert kit.session.function_result("mcp_1", "4") == []
    # An ordinary unknown call id still reaches the model, as a late result.
    assert sent(kit.session.function_result("call_other", "4"), "conversation.item.create")


def test_a_listing_is_announced_once_and_a_failed_one_is_reported() -> None:
    kit = Kit()
    kit.connect()
    listing = {"id": "mcpl_1", "type": "mcp_list_tools", "server_label": "dice", "tools": []}
    actions = kit.event("conversation.item.added", item=listing)
    tools = [{"name": "roll", "input_schema": {}}]
    actions += kit.event("conversation.item.done", item={**listing, "tools": tools})
    actions += kit.event("conversation.item.done", item={**listing, "tools": tools})
    notes = [a for a in actions if isinstance(a, Notify) and a.handler == "on_mcp_tools_listed"]
    assert [n.args for n in notes] == [("dice", tools)]
    kit.event("conversation.item.added", item={**listing, "id": "mcpl_2", "server_label": "x"})
    (report,) = of(kit.event("mcp_list_tools.failed", item_id="mcpl_2"), ReportError)
    assert "'x'" in report.message and not report.fatal


def test_an_approval_is_asked_once_and_its_answer_sent_with_a_response() -> None:
    kit = Kit()
    kit.connect()
    actions = item_events(kit, REQUEST, done=False) + item_events(kit, REQUEST, done=True)
    assert [a.request for a in of(actions, McpApprovalAsked)] == [
        McpApprovalRequest("mcpr_1", "dice", "roll", '{"sides": 6}')
    ]
    answer = kit.session.mcp_approval("mcpr_1", True)
    (create,) = sent(answer, "conversation.item.create")
    data = create.to_dict()
    assert data["item"]["type"] == "mcp_approval_response"
    assert data["item"]["approval_request_id"] == "mcpr_1" and data["item"]["approve"] is True
    assert "reason" not in data["item"]
    assert official_client_event_error(data) is None
    assert len(sent(answer, "response.create")) == 1
    assert kit.session.mcp_approval("mcpr_1", True) == []  # answered already


def test_an_answer_during_the_response_waits_for_its_end_to_ask_again() -> None:
    kit = Kit()
    kit.connect()
    kit.event("response.created", response=response("resp_1"))
    item_events(kit, REQUEST, done=True)
    answer = kit.session.mcp_approval("mcpr_1", False, "not here")
    (create,) = sent(answer, "conversation.item.create")
    assert create.to_dict()["item"]["reason"] == "not here"
    assert sent(answer, "response.create") == []
    done = kit.event("response.done", response=response("resp_1", "completed", output=[]))
    assert len(sent(done, "response.create")) == 1


def test_requests_of_an_ended_connection_cannot_be_answered() -> None:
    kit = Kit()
    kit.connect()
    item_events(kit, REQUEST, done=True)
    kit.session.close(push_frames=False)
    kit.connect()  # a new conversation: the old request is not in it
    assert kit.session.mcp_approval("mcpr_1", True) == []
