"""Responses, item operations and usage over a real socket."""

from __future__ import annotations

import base64
import json

from pipecat_realtime_openai.testing import (
    FunctionCall,
    RealtimeSimulator,
    Reply,
    ResponseContext,
    ScriptedResponder,
)
from tests.testing.sim_client import SimClient, types


def user_text(text: str) -> dict:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


async def test_second_response_create_while_active_is_refused():
    async with RealtimeSimulator(pace="realtime") as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create"})
            await client.recv_until("response.created")
            await client.send({"type": "response.create", "event_id": "evt_2"})
            await client.send({"type": "response.cancel"})
            events = await client.recv_until("response.done")
    errors = [e for e in events if e["type"] == "error"]
    assert [e["error"]["code"] for e in errors] == ["conversation_already_has_active_response"]
    assert errors[0]["error"]["event_id"] == "evt_2"
    assert events[-1]["response"]["status_details"]["reason"] == "client_cancelled"


async def test_cancel_without_active_response_is_an_error():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.cancel", "event_id": "evt_c"})
            (error,) = await client.recv_until("error")
    assert error["error"]["code"] == "response_cancel_not_active"
    assert error["error"]["event_id"] == "evt_c"


async def test_next_response_can_start_right_after_response_done():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            for _ in range(3):
                await client.send({"type": "response.create"})
                events = await client.recv_until("response.done")
                assert "error" not in types(events)


async def test_text_modality_several_messages_and_calls_in_one_response():
    reply = Reply(
        text=["First part.", "Second part."],
        function_calls=[
            FunctionCall("a", {"x": 1}),
            FunctionCall("b", '{"y": 2}', call_id="call_fixed"),
        ],
    )
    async with RealtimeSimulator(responder=ScriptedResponder([reply])) as sim:
        async with await SimClient.open(sim) as client:
            await client.send(
                {"type": "response.create", "response": {"output_modalities": ["text"]}}
            )
            events = await client.recv_until("response.done")
    names = types(events)
    assert "response.output_audio.delta" not in names
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [e["output_index"] for e in added] == [0, 1, 2, 3]
    assert [e["item"]["type"] for e in added] == [
        "message",
        "message",
        "function_call",
        "function_call",
    ]
    texts = [e["text"] for e in events if e["type"] == "response.output_text.done"]
    assert texts == ["First part.", "Second part."]
    calls = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [
        ("a", {"x": 1}),
        ("b", {"y": 2}),
    ]
    assert calls[1]["call_id"] == "call_fixed"
    output = events[-1]["response"]["output"]
    assert [item["status"] for item in output] == ["completed"] * 4
    # Each item's conversation.item.added points at the previous output item.
    conv_added = [e for e in events if e["type"] == "conversation.item.added"]
    assert conv_added[1]["previous_item_id"] == conv_added[0]["item"]["id"]


async def test_reply_can_depend_on_function_output():
    def after_tool(context: ResponseContext) -> Reply:
        return Reply(text=f"Result: {context.function_outputs['call_1']}")

    responder = ScriptedResponder(
        [Reply(function_calls=[FunctionCall("lookup", {}, call_id="call_1")]), after_tool]
    )
    async with RealtimeSimulator(responder=responder) as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create"})
            await client.recv_until("response.done")
            await client.send(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "function_call_output", "call_id": "call_1", "output": "42"},
                }
            )
            await client.send({"type": "response.create"})
            events = await client.recv_until("response.done")
    done = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    assert done["transcript"] == "Result: 42"


async def test_out_of_band_response_stays_out_of_conversation_and_echoes_metadata():
    async with RealtimeSimulator(responder=ScriptedResponder([Reply(text="Summary.")])) as sim:
        async with await SimClient.open(sim) as client:
            await client.send(user_text("hello"))
            await client.recv_until("conversation.item.done")
            await client.send(
                {
                    "type": "response.create",
                    "response": {
                        "conversation": "none",
                        "metadata": {"purpose": "summary"},
                        "instructions": "Summarise.",
                        "output_modalities": ["text"],
                    },
                }
            )
            events = await client.recv_until("response.done")
    names = types(events)
    assert "conversation.item.added" not in names and "conversation.item.done" not in names
    response = events[-1]["response"]
    assert response["conversation_id"] is None
    assert response["metadata"] == {"purpose": "summary"}
    assert len(sim.connections[0].items) == 1


async def test_usage_has_token_details_and_cached_tokens_grow():
    responder = ScriptedResponder([Reply(text="Ok."), Reply(text="Ok.")])
    async with RealtimeSimulator(responder=responder) as sim:
        async with await SimClient.open(sim) as client:
            usages = []
            for _ in range(2):
                await client.send(user_text("word " * 300))
                await client.send({"type": "response.create"})
                usages.append((await client.recv_until("response.done"))[-1]["response"]["usage"])
    first, second = usages
    for usage in usages:
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        details = usage["input_token_details"]
        assert details["text_tokens"] + details["audio_tokens"] == usage["input_tokens"]
        assert usage["output_token_details"]["audio_tokens"] > 0
    assert first["input_token_details"]["cached_tokens"] == 0
    cached = second["input_token_details"]["cached_tokens"]
    assert 0 < cached <= first["input_tokens"] and cached % 64 == 0


async def test_item_create_retrieve_delete_and_truncate_replies():
    async with RealtimeSimulator(responder=ScriptedResponder([Reply(text="Hello there")])) as sim:
        async with await SimClient.open(sim) as client:
            await client.send(user_text("a"))
            (added, _) = await client.recv_until("conversation.item.done")
            first_id = added["item"]["id"]
            await client.send({**user_text("b"), "previous_item_id": "root"})
            (added_b, _) = await client.recv_until("conversation.item.done")
            assert added_b["previous_item_id"] is None
            await client.send({**user_text("c"), "previous_item_id": "item_nope", "event_id": "e1"})
            (error,) = await client.recv_until("error")
            assert error["error"]["event_id"] == "e1"

            await client.send({"type": "response.create"})
            events = await client.recv_until("response.done")
            asst = events[-1]["response"]["output"][0]["id"]
            generated = len("Hello there") * 60

            await client.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": asst,
                    "content_index": 0,
                    "audio_end_ms": generated + 1,
                }
            )
            (error,) = await client.recv_until("error")
            assert error["error"]["code"] == "invalid_value"
            assert error["error"]["message"] == (
                f"Audio content of {generated}ms is already shorter than {generated + 1}ms"
            )
            await client.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": asst,
                    "content_index": 0,
                    "audio_end_ms": 300,
                }
            )
            (truncated,) = await client.recv_until("conversation.item.truncated")
            assert (truncated["item_id"], truncated["audio_end_ms"]) == (asst, 300)
            await client.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": first_id,
                    "content_index": 0,
                    "audio_end_ms": 0,
                }
            )
            assert (await client.recv_until("error"))[0]["error"]["code"] == "invalid_value"
            await client.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": "item_x",
                    "content_index": 0,
                    "audio_end_ms": 0,
                }
            )
            assert (await client.recv_until("error"))[0]["error"][
                "code"
            ] == "item_truncate_invalid_item_id"

            await client.send({"type": "conversation.item.retrieve", "item_id": first_id})
            (retrieved,) = await client.recv_until("conversation.item.retrieved")
            assert retrieved["item"]["content"][0]["text"] == "a"
            await client.send({"type": "conversation.item.retrieve", "item_id": "item_x"})
            assert (await client.recv_until("error"))[0]["error"][
                "code"
            ] == "item_retrieve_invalid_item_id"

            await client.send({"type": "conversation.item.delete", "item_id": first_id})
            (deleted,) = await client.recv_until("conversation.item.deleted")
            assert deleted["item_id"] == first_id
            await client.send({"type": "conversation.item.delete", "item_id": first_id})
            assert (await client.recv_until("error"))[0]["error"][
                "code"
            ] == "item_delete_invalid_item_id"
        conn = sim.connections[0]
        assert [item["id"] for item in conn.items] == [added_b["item"]["id"], asst]


async def test_user_audio_item_created_by_client_counts_as_input_audio():
    audio = base64.b64encode(b"\x00\x00" * 24000).decode()
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_audio", "audio": audio}],
                    },
                }
            )
            (added, _) = await client.recv_until("conversation.item.done")
            assert "audio" not in added["item"]["content"][0]
            await client.send({"type": "response.create"})
            usage = (await client.recv_until("response.done"))[-1]["response"]["usage"]
    assert usage["input_token_details"]["audio_tokens"] == 10  # 1 s at 10 tokens/s
    assert sim.connections[0].state.store.input_audio_ms[added["item"]["id"]] == 1000


async def test_output_audio_buffer_clear_is_refused_on_websocket():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "output_audio_buffer.clear", "event_id": "e9"})
            (error,) = await client.recv_until("error")
    assert error["error"]["event_id"] == "e9"


async def test_rate_limits_follow_response_done_when_enabled():
    responder = ScriptedResponder([Reply(text="Ok."), Reply(text="Ok.")])
    async with RealtimeSimulator(responder=responder, rate_limits=True) as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create"})
            first = await client.recv_until("rate_limits.updated")
            await client.send({"type": "response.create"})
            await client.recv_until("response.created")
            await client.send({"type": "response.cancel"})
            second = await client.recv_until("rate_limits.updated")
    assert types(first)[-2:] == ["response.done", "rate_limits.updated"]
    assert types(second)[-2:] == ["response.done", "rate_limits.updated"]
    used = first[-2]["response"]["usage"]["total_tokens"]
    tokens = next(r for r in first[-1]["rate_limits"] if r["name"] == "tokens")
    assert tokens["remaining"] == tokens["limit"] - used
    requests = next(r for r in second[-1]["rate_limits"] if r["name"] == "requests")
    assert requests["remaining"] == requests["limit"] - 2


async def test_no_rate_limits_by_default():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create"})
            await client.recv_until("response.done")
        assert "rate_limits.updated" not in sim.connections[0].server_event_types


async def test_item_with_bad_base64_audio_is_refused_without_breaking_the_session():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send(
                {
                    "type": "conversation.item.create",
                    "event_id": "e_bad",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_audio", "audio": "%%%"}],
                    },
                }
            )
            (error,) = await client.recv_until("error")
            assert error["error"]["event_id"] == "e_bad"
            await client.send({"type": "response.create"})
            await client.recv_until("response.done")
        assert sim.connections[0].items[0]["role"] == "assistant"
