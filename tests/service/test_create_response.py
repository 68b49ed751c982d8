"""create_response: answers on the side, several at once, while the bot's turns go on.

Over a real socket against the simulator: the side answers come back whole (text,
audio, function calls, usage, metadata), what was asked reaches the server, and the
bot's turn, the conversation and the Pipecat context are exactly as without them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai import OutOfBandResponse, OutOfBandResponseError
from pipecat_realtime_openai.core.out_of_band import TAG
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.testing import (
    FunctionCall,
    InjectedError,
    RealtimeSimulator,
    Reply,
    ResponseContext,
    ScriptedResponder,
)
from tests.service.conftest import (
    assert_client_events_official,
    make_service,
)
from tests.service.test_provider_behaviour import KEY, PROVIDERS

BOT_REPLY = "Sure, here is a fairly long spoken answer that takes a few seconds to say."
"""About 4.5 s of the simulator's speech: long enough to still stream at real pace."""


def _answer_by_metadata(context: ResponseContext) -> Reply:
    return Reply(text=f"Answer {context.metadata['n']}: {context.instructions}")


def _turn_shape(frames: list[Frame]) -> tuple[list[str], bytes, str]:
    """The bot turn as a listener gets it: frame kinds (audio runs as one), audio, text."""
    kinds: list[str] = []
    for frame in frames:
        kind = type(frame).__name__
        if kind in ("TTSAudioRawFrame", "LLMTextFrame", "TTSTextFrame") and kinds[-1:] == [kind]:
            continue
        kinds.append(kind)
    audio = b"".join(f.audio for f in frames if isinstance(f, TTSAudioRawFrame))
    text = "".join(f.text for f in frames if isinstance(f, TTSTextFrame))
    return kinds, audio, text


async def _bot_voice_turn(sim: RealtimeSimulator, harnesses, side_requests: int):
    """A user turn answered by voice; ``side_requests`` side answers asked meanwhile."""
    service = make_service(sim)
    context = LLMContext(messages=[{"role": "user", "content": "Tell me something."}])
    harness = harnesses(service)
    await harness.start()
    conn = await sim.wait_for_connection()
    await harness.send(LLMContextFrame(context))
    await harness.down.wait_for(TTSAudioRawFrame)
    results: list[OutOfBandResponse] = []
    if side_requests:
        results = await asyncio.gather(
            *(
                service.create_response(
                    [{"role": "user", "content": f"Question {n}"}],
                    instructions=f"Say {n}.",
                    metadata={"n": str(n)},
                )
                for n in range(1, side_requests + 1)
            )
        )
        assert not harness.down.of(LLMFullResponseEndFrame), "answered while the bot spoke"
    await harness.down.wait_for(LLMFullResponseEndFrame)
    mirror = service.core.conversation.mirror.ids()
    messages = [dict(m) for m in context.get_messages()]
    await harness.stop()
    return harness, conn, (mirror, messages), results


async def test_three_side_answers_while_the_bot_speaks_leave_its_turn_as_it_was(harnesses):
    responder = ScriptedResponder([Reply(text=BOT_REPLY)], out_of_band=[_answer_by_metadata] * 3)
    async with RealtimeSimulator(pace="realtime", responder=responder) as sim:
        harness, conn, (mirror, messages), results = await _bot_voice_turn(sim, harnesses, 3)
        assert_client_events_official(sim)
    async with RealtimeSimulator(
        pace="realtime", responder=ScriptedResponder([Reply(text=BOT_REPLY)])
    ) as sim:
        baseline, base_conn, (_, base_messages), _ = await _bot_voice_turn(sim, harnesses, 0)

    assert [r.text for r in results] == [f"Answer {n}: Say {n}." for n in (1, 2, 3)]
    assert [r.metadata for r in results] == [{"n": str(n)} for n in (1, 2, 3)]
    assert all(r.status == "completed" and r.usage and r.response_id for r in results)
    assert len({r.response_id for r in results}) == 3
    # The three were on the wire at the same time as the bot's reply.
    types = conn.server_event_types
    bot_done = max(i for i, t in enumerate(types) if t == "response.done")
    created = [i for i, t in enumerate(types) if t == "response.created"]
    assert len(created) == 4 and all(i < bot_done for i in created)
    assert _turn_shape(harness.down.frames) == _turn_shape(baseline.down.frames)
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 1
    assert not any("Answer" in f.text for f in harness.down.of(LLMTextFrame))
    # Nothing joined the conversation, its mirror or the context.
    assert [i["type"] for i in conn.items] == [i["type"] for i in base_conn.items]
    assert mirror == [i["id"] for i in conn.items]
    assert messages == base_messages == [{"role": "user", "content": "Tell me something."}]


async def _started(sim: RealtimeSimulator, harnesses):
    service = make_service(sim)
    harness = harnesses(service)
    await harness.start()
    conn = await sim.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    return service, harness, conn


def _creates(conn) -> list[dict[str, Any]]:
    return [e for e in conn.client_events if e.get("type") == "response.create"]


async def test_a_function_call_comes_back_unrun(simulator, harnesses):
    call = FunctionCall("flag_message", {"severity": "high"}, call_id="call_mod")
    simulator.responder = ScriptedResponder(out_of_band=[Reply(function_calls=[call])])
    service, harness, conn = await _started(simulator, harnesses)
    ran: list[Any] = []

    async def flag_message(params):
        ran.append(params)

    service.register_function("flag_message", flag_message)
    tools = ToolsSchema(
        standard_tools=[
            FunctionSchema(
                name="flag_message",
                description="Flag a message.",
                properties={"severity": {"type": "string"}},
                required=["severity"],
            )
        ]
    )
    result = await service.create_response(
        [{"role": "user", "content": "You are an idiot."}],
        instructions="Moderate.",
        tools=tools,
        tool_choice="required",
    )
    await harness.stop()

    assert [(c.name, c.call_id) for c in result.function_calls] == [("flag_message", "call_mod")]
    assert json.loads(result.function_calls[0].arguments) == {"severity": "high"}
    assert ran == [], "the call is the caller's, never run"
    (request,) = _creates(conn)
    assert request["response"]["tools"][0]["name"] == "flag_message"
    assert request["response"]["tool_choice"] == "required"
    assert not [e for e in conn.client_events if e.get("type") == "conversation.item.create"]


async def test_audio_modality_returns_audio_and_its_transcript(simulator, harnesses):
    simulator.responder = ScriptedResponder(out_of_band=[Reply(text="Heads up.")])
    service, harness, conn = await _started(simulator, harnesses)
    result = await service.create_response([], output_modalities=["audio"], voice="marin")
    await harness.stop()

    assert result.audio_transcript == "Heads up." and result.text == ""
    sent = [e for e in conn.server_events if e["type"] == "response.output_audio.delta"]
    assert len(result.audio) > 0 and len(sent) > 0
    assert not harness.down.of(TTSAudioRawFrame), "never played"
    (request,) = _creates(conn)
    assert request["response"]["output_modalities"] == ["audio"]
    assert request["response"]["audio"]["output"]["voice"] == "marin"


async def test_metadata_input_items_and_references_reach_the_server(simulator, harnesses):
    seen: list[ResponseContext] = []

    def record(context: ResponseContext) -> Reply:
        seen.append(context)
        return Reply(text="ok")

    simulator.responder = ScriptedResponder([Reply(text="Hello.")], out_of_band=[record])
    service, harness, conn = await _started(simulator, harnesses)
    await harness.send(LLMContextFrame(LLMContext(messages=[{"role": "user", "content": "Hi"}])))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    user_item = conn.items[0]["id"]
    item = ConversationItem(
        type="message", role="user", content=[{"type": "input_text", "text": "typed item"}]
    )
    result = await service.create_response(
        [
            {"role": "user", "content": "a message"},
            item,
            {"type": "item_reference", "id": user_item},
        ],
        metadata={"purpose": "summary"},
        max_output_tokens=40,
    )
    await harness.stop()

    assert result.text == "ok" and result.metadata == {"purpose": "summary"}
    request = _creates(conn)[-1]["response"]
    assert request["conversation"] == "none"
    assert request["metadata"] == {"purpose": "summary", TAG: request["metadata"][TAG]}
    assert request["max_output_tokens"] == 40
    assert request["input"][2] == {"type": "item_reference", "id": user_item}
    texts = [part.get("text") for i in seen[0].items for part in i.get("content", [])]
    assert texts == ["a message", "typed item", "Hi"], "the reference resolved on the server"
    assert len(conn.items) == 2, "the user message and the bot's reply only"


async def test_conversation_auto_is_refused_and_nothing_is_sent(simulator, harnesses):
    service, harness, conn = await _started(simulator, harnesses)
    with pytest.raises(ValueError, match='conversation="auto"'):
        await service.create_response([], conversation="auto")
    await harness.stop()
    assert _creates(conn) == []


async def test_a_refused_response_raises_and_the_session_goes_on(harnesses):
    async with RealtimeSimulator() as sim:
        sim.responder = ScriptedResponder([Reply(text="Still here.")])
        service, harness, _ = await _started(sim, harnesses)
        refusal = InjectedError("server_error", "The server had an error.", "server_error")
        sim.faults.errors_for["response.create"] = refusal
        with pytest.raises(OutOfBandResponseError, match="The server had an error"):
            await service.create_response([])
        del sim.faults.errors_for["response.create"]
        await harness.send(LLMContextFrame(LLMContext(messages=[{"role": "user", "content": "x"}])))
        await harness.down.wait_for(LLMFullResponseEndFrame)
        await harness.stop()
    assert "Still here." in "".join(f.text for f in harness.down.of(TTSTextFrame))
    assert len(sim.connections) == 1, "no reconnect"


async def test_a_dropped_connection_raises(harnesses):
    async with RealtimeSimulator(pace="realtime") as sim:
        sim.responder = ScriptedResponder(out_of_band=[Reply(text=BOT_REPLY)])
        service, harness, conn = await _started(sim, harnesses)
        task = asyncio.create_task(service.create_response([], output_modalities=["audio"]))
        await conn.wait_for_server_event("response.output_audio.delta")
        conn.drop()
        with pytest.raises(OutOfBandResponseError, match="closed"):
            await task
        await sim.wait_for_connection(2)
        await harness.stop()


async def test_a_timeout_cancels_the_response_and_raises(harnesses):
    async with RealtimeSimulator(pace="realtime") as sim:
        sim.responder = ScriptedResponder(out_of_band=[Reply(text=BOT_REPLY)])
        service, harness, conn = await _started(sim, harnesses)
        with pytest.raises(OutOfBandResponseError, match="no answer within"):
            await service.create_response([], output_modalities=["audio"], timeout=0.3)
        cancel = await conn.wait_for_client_event("response.cancel")
        done = await conn.wait_for_server_event("response.done")
        await harness.stop()
    assert cancel["response_id"] == done["response"]["id"]
    assert done["response"]["status"] == "cancelled"


async def test_cancelling_the_awaiting_task_cancels_only_that_response(harnesses):
    responder = ScriptedResponder(
        [Reply(text=BOT_REPLY)], out_of_band=[Reply(text=BOT_REPLY), Reply(text="Kept.")]
    )
    async with RealtimeSimulator(pace="realtime", responder=responder) as sim:
        service, harness, conn = await _started(sim, harnesses)
        await harness.send(LLMContextFrame(LLMContext(messages=[{"role": "user", "content": "x"}])))
        await harness.down.wait_for(TTSAudioRawFrame)
        doomed = asyncio.create_task(service.create_response([], output_modalities=["audio"]))
        await conn.wait_for_server_event("response.created", 2)
        kept = await asyncio.create_task(service.create_response([]))
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
        cancel = await conn.wait_for_client_event("response.cancel")
        await harness.down.wait_for(LLMFullResponseEndFrame)
        await harness.stop()
    side_id = conn.server_events[
        [i for i, t in enumerate(conn.server_event_types) if t == "response.created"][1]
    ]["response"]["id"]
    assert cancel["response_id"] == side_id
    assert kept.text == "Kept."
    assert BOT_REPLY == "".join(f.text for f in harness.down.of(TTSTextFrame))


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.dialect)
async def test_every_provider_answers_on_the_side_as_its_dialect_allows(provider, harnesses):
    responder = ScriptedResponder(
        [Reply(text=BOT_REPLY)],
        out_of_band=[lambda c: Reply(text=f"Side {c.metadata['n']}.")] * 2,
    )
    async with RealtimeSimulator(
        api_key=KEY, dialect=provider.dialect, pace="realtime", responder=responder
    ) as sim:
        service = provider.service(sim)
        harness = harnesses(service)
        await harness.start()
        conn = await sim.wait_for_connection()
        context = LLMContext(messages=[{"role": "user", "content": "Tell me something."}])
        await harness.send(LLMContextFrame(context))
        await harness.down.wait_for(TTSAudioRawFrame)
        results = await asyncio.gather(
            *(
                service.create_response(
                    [{"role": "user", "content": "q"}], metadata={"n": str(n)}, timeout=20
                )
                for n in (1, 2)
            )
        )
        await harness.down.wait_for(LLMFullResponseEndFrame)
        await harness.stop()

    # Azure takes no output_modalities in response.create: the answer is spoken.
    assert [r.text or r.audio_transcript for r in results] == ["Side 1.", "Side 2."]
    assert BOT_REPLY == "".join(f.text for f in harness.down.of(TTSTextFrame))
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 1
    assert not [e for e in conn.server_events if e.get("type") == "error"]
    done = [
        i
        for i, e in enumerate(conn.server_events)
        if e.get("type") == "response.done" and not (e["response"].get("metadata") or {})
    ]
    created = [
        i
        for i, e in enumerate(conn.server_events)
        if e.get("type") == "response.created" and (e["response"].get("metadata") or {})
    ]
    concurrent = service.core.dialect.concurrent_out_of_band
    assert all((i < done[0]) == concurrent for i in created)
