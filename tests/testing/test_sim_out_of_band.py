"""The simulator's out-of-band responses: several at once, next to the conversation's."""

from __future__ import annotations

from typing import Any

from pipecat_realtime_openai.testing import (
    FunctionCall,
    RealtimeSimulator,
    Reply,
    ResponseContext,
    ScriptedResponder,
)
from pipecat_realtime_openai.testing.session_state import RealtimeSessionState
from tests.testing.sim_client import SimClient, types

LONG = "A long answer that takes a good while to say out loud."


def side(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "response.create",
        "event_id": f"evt_{n}",
        "response": {
            "conversation": "none",
            "metadata": {"n": str(n)},
            "output_modalities": ["text"],
            "input": [],
            **extra,
        },
    }


def drain(state: RealtimeSessionState) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while (step := state.next_response_step()) is not None:
        events.extend(step)
    return events


def test_side_responses_interleave_with_the_conversations_and_stay_out_of_it() -> None:
    responder = ScriptedResponder(
        [Reply(text=LONG)], out_of_band=[lambda c: Reply(text=f"Side {c.metadata['n']}.")] * 2
    )
    state = RealtimeSessionState("gpt-realtime", responder)
    assert state.receive({"type": "response.create"}) == []
    assert state.receive(side(1)) == [] and state.receive(side(2)) == []
    events = drain(state)
    done = [e for e in events if e["type"] == "response.done"]
    assert [d["response"]["metadata"] for d in done[:2]] == [{"n": "1"}, {"n": "2"}]
    assert done[2]["response"]["conversation_id"] == state.conversation_id
    created = [e["response"]["id"] for e in events if e["type"] == "response.created"]
    first_bot_delta = next(i for i, e in enumerate(events) if e.get("response_id") == created[0])
    first_side_done = events.index(done[0])
    assert first_bot_delta < first_side_done < events.index(done[2]), "interleaved"
    texts = {d["response"]["metadata"]["n"]: d for d in done[:2]}
    assert texts["1"]["response"]["output"][0]["content"][0]["text"] == "Side 1."
    assert [i["role"] for i in state.store.items] == ["assistant"], "the bot's reply only"
    added = [e for e in events if e["type"] == "conversation.item.added"]
    assert [e["item"]["id"] for e in added] == [state.store.items[0]["id"]]


def test_a_second_conversation_response_is_still_refused_while_sides_run() -> None:
    state = RealtimeSessionState("gpt-realtime", ScriptedResponder([Reply(text=LONG)]))
    state.receive(side(1))
    assert state.receive({"type": "response.create"}) == [], "a side answer is no obstacle"
    (error,) = state.receive({"type": "response.create", "event_id": "evt_x"})
    assert error["error"]["code"] == "conversation_already_has_active_response"
    assert state.receive(side(2)) == []
    assert len(state.out_of_band) == 2


def test_cancel_by_id_ends_only_that_side_response() -> None:
    state = RealtimeSessionState("gpt-realtime", ScriptedResponder([Reply(text=LONG)] * 3))
    state.receive({"type": "response.create"})
    state.receive(side(1))
    state.next_response_step()
    state.next_response_step()
    target = state.out_of_band[0].id
    events = state.receive({"type": "response.cancel", "response_id": target})
    assert events[-1]["type"] == "response.done"
    assert events[-1]["response"]["id"] == target
    assert events[-1]["response"]["status"] == "cancelled"
    assert state.active is not None and state.out_of_band == []


def test_a_barge_in_cancels_the_conversations_response_only() -> None:
    state = RealtimeSessionState("gpt-realtime", ScriptedResponder([Reply(text=LONG)] * 2))
    state.receive({"type": "response.create"})
    state.receive(side(1))
    state._cancel_active("turn_detected")
    assert state.active is None and len(state.out_of_band) == 1


def test_tool_choice_and_tools_of_the_response_are_what_the_responder_sees() -> None:
    seen: list[ResponseContext] = []
    call = FunctionCall("flag", {}, call_id="call_1")

    def record(context: ResponseContext) -> Reply:
        seen.append(context)
        return Reply(text="ok", function_calls=[call])

    tools = [{"type": "function", "name": "flag", "parameters": {}}]
    state = RealtimeSessionState("gpt-realtime", ScriptedResponder([record, record]))
    state.receive(side(1, tools=tools, tool_choice="none", instructions="Judge."))
    none_events = drain(state)
    state.receive(side(2, tools=tools, tool_choice={"type": "function", "name": "flag"}))
    named_events = drain(state)
    assert seen[0].tools == tools and seen[0].tool_choice == "none"
    assert seen[0].instructions == "Judge." and seen[0].out_of_band
    assert "response.function_call_arguments.done" not in types(none_events)
    assert "response.function_call_arguments.done" in types(named_events)


def test_the_out_of_band_script_leaves_the_conversations_replies_in_order() -> None:
    responder = ScriptedResponder([Reply(text="Bot one.")])
    responder.add_out_of_band(Reply(text="Side."))
    state = RealtimeSessionState("gpt-realtime", responder)
    state.receive(side(1))
    state.receive({"type": "response.create", "response": {"output_modalities": ["text"]}})
    done = [e for e in drain(state) if e["type"] == "response.done"]
    texts = {
        bool(d["response"]["metadata"]): d["response"]["output"][0]["content"][0]["text"]
        for d in done
    }
    assert texts == {True: "Side.", False: "Bot one."}


async def test_over_a_socket_side_answers_arrive_while_the_reply_streams() -> None:
    responder = ScriptedResponder([Reply(text=LONG)], out_of_band=[Reply(text="Quick.")])
    async with RealtimeSimulator(pace="realtime", responder=responder) as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create"})
            await client.recv_until("response.output_audio.delta")
            await client.send(side(1))
            events = await client.recv_until("response.done")
            assert events[-1]["response"]["metadata"] == {"n": "1"}
            assert "error" not in types(events)
            await client.send({"type": "response.cancel"})
            rest = await client.recv_until("response.done")
    assert rest[-1]["response"]["status"] == "cancelled"
    assert rest[-1]["response"]["metadata"] is None
