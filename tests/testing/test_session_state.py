"""The simulator's logic used directly, without a socket (sans-I/O)."""

from __future__ import annotations

from pipecat_realtime_openai.protocol.official import official_server_event_error
from pipecat_realtime_openai.testing import (
    FunctionCall,
    RealtimeSessionState,
    Reply,
    ScriptedResponder,
)


def drain(state: RealtimeSessionState, limit: int | None = None) -> list[dict]:
    events: list[dict] = []
    while limit is None or len(events) < limit:
        step = state.next_response_step()
        if step is None:
            break
        events.extend(step)
    return events


def check(events: list[dict]) -> list[str]:
    for event in events:
        problem = official_server_event_error(event)
        assert problem is None, problem
    return [event["type"] for event in events]


def test_response_create_only_prepares_the_response_which_is_then_pulled():
    state = RealtimeSessionState("gpt-realtime", ScriptedResponder([Reply(text="Hi.")]))
    assert state.receive({"type": "response.create"}) == []
    assert state.active is not None
    names = check(drain(state))
    assert names[0] == "response.created" and names[-1] == "response.done"
    assert state.active is None
    assert state.next_response_step() is None


def test_cancel_in_the_middle_of_function_arguments_closes_the_call():
    calls = [FunctionCall("search", {"query": "a long query with many words in it"})]
    state = RealtimeSessionState("gpt-realtime", ScriptedResponder([Reply(function_calls=calls)]))
    state.receive({"type": "response.create"})
    started = drain(state, limit=5)
    assert "response.function_call_arguments.delta" in check(started)
    closing = state.receive({"type": "response.cancel"})
    names = check(closing)
    assert names == [
        "response.function_call_arguments.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    partial = closing[0]["arguments"]
    streamed = "".join(
        e["delta"] for e in started if e["type"] == "response.function_call_arguments.delta"
    )
    assert partial == streamed
    assert closing[-1]["response"]["status"] == "cancelled"
    assert closing[-1]["response"]["output"][0]["status"] == "incomplete"
    assert state.active is None


def test_cancel_of_text_reply_and_before_any_item():
    state = RealtimeSessionState("gpt-realtime", ScriptedResponder([Reply(text="One two three.")]))
    state.receive(
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}
    )
    state.receive({"type": "response.create"})
    drain(state, limit=4)
    names = check(state.receive({"type": "response.cancel"}))
    assert names[:2] == ["response.output_text.done", "response.content_part.done"]

    state.receive({"type": "response.create"})
    check(drain(state, limit=1))  # only response.created
    names = check(state.receive({"type": "response.cancel"}))
    assert names == ["response.done"]


def test_function_output_and_session_survive_in_state():
    state = RealtimeSessionState("gpt-realtime")
    events = state.receive(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        }
    )
    assert check(events) == ["conversation.item.added", "conversation.item.done"]
    assert state.store.items[0]["output"] == "ok"
    assert check(state.opening_events()) == ["session.created"]


def test_receive_text_decodes_frames_and_reports_bad_json():
    state = RealtimeSessionState("gpt-realtime")
    data, events = state.receive_text('{"type": "input_audio_buffer.clear", "event_id": "e1"}')
    assert data["event_id"] == "e1" and check(events) == ["input_audio_buffer.cleared"]
    data, events = state.receive_text("{oops")
    assert data is None and events[0]["error"]["code"] == "invalid_json"


def test_max_output_tokens_cuts_a_text_reply_and_skips_later_calls():
    calls = [FunctionCall("search", {"query": "x"})]
    reply = Reply(text="one two three four five six", function_calls=calls)
    state = RealtimeSessionState("gpt-realtime", ScriptedResponder([reply]))
    state.receive(
        {
            "type": "response.create",
            "response": {"output_modalities": ["text"], "max_output_tokens": 3},
        }
    )
    events = drain(state)
    check(events)
    done = events[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    [item] = done["output"]
    assert item["status"] == "incomplete"
    assert item["content"][0]["text"] == "one two thre"  # 3 tokens of 4 characters
    assert not [e for e in events if e["type"].startswith("response.function_call")]


def test_unlimited_output_tokens_complete_the_reply():
    state = RealtimeSessionState("gpt-realtime", ScriptedResponder([Reply(text="Hi there.")]))
    state.receive({"type": "response.create"})
    done = drain(state)[-1]["response"]
    assert done["status"] == "completed" and done["output"][0]["status"] == "completed"
