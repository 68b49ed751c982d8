"""Tools that fail or never answer leave the conversation usable.

A handler that raises gets an error result sent to the model as the call's
``function_call_output``, and the model is asked once to go on. A handler that never
calls its result callback is stopped by Pipecat's function call timeout; the call is
settled so the server does not wait for it, and the conversation continues.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pipecat.frames.frames import (
    ErrorFrame,
    FunctionCallCancelFrame,
    LLMFullResponseEndFrame,
    LLMMessagesAppendFrame,
    TTSTextFrame,
)
from pipecat.services.llm_service import FunctionCallParams
from pipecat.utils.errors import ErrorCategory

from pipecat_realtime_openai.core.items import TIMED_OUT_OUTPUT
from pipecat_realtime_openai.testing import (
    FunctionCall,
    RealtimeSimulator,
    Reply,
    ResponseContext,
    ScriptedResponder,
    SimulatedConnection,
)
from tests.reliability.conftest import (
    Harness,
    assert_client_events_official,
    make_service,
    wait_until,
)


def say(text: str) -> LLMMessagesAppendFrame:
    return LLMMessagesAppendFrame([{"role": "user", "content": text}], run_llm=True)


def outputs(conn: SimulatedConnection) -> dict[str, list[str]]:
    """``call_id -> outputs`` the service sent, in order."""
    found: dict[str, list[str]] = {}
    for event in conn.client_events:
        if event.get("type") != "conversation.item.create":
            continue
        item = event["item"]
        if item.get("type") == "function_call_output":
            found.setdefault(item["call_id"], []).append(item["output"])
    return found


def creates_after_output(conn: SimulatedConnection, call_id: str) -> int:
    """``response.create`` events sent after the output of ``call_id``."""
    types = conn.client_event_types
    for index, event in enumerate(conn.client_events):
        item = event.get("item") or {}
        if item.get("type") == "function_call_output" and item.get("call_id") == call_id:
            return types[index:].count("response.create")
    return 0


def spoken(harness: Harness) -> str:
    return "".join(frame.text for frame in harness.down.of(TTSTextFrame))


def answer_with_tool_outputs(context: ResponseContext) -> Reply:
    parts = [f"{call_id}={output}" for call_id, output in sorted(context.function_outputs.items())]
    return Reply(text="Tools said " + "; ".join(parts))


@contextlib.asynccontextmanager
async def tool_session(
    responder: ScriptedResponder, tools: dict[str, Any], **register: Any
) -> AsyncIterator[tuple[Harness, SimulatedConnection]]:
    """A configured session with ``tools`` registered; always torn down, even on failure."""
    async with RealtimeSimulator(responder=responder) as sim:
        service = make_service(sim)
        for name, handler in tools.items():
            service.register_function(name, handler, **register)
        harness = Harness(service)
        await harness.start()
        try:
            conn = await sim.wait_for_connection()
            await conn.wait_for_server_event("session.updated")
            yield harness, conn
            await harness.stop()
        finally:
            await harness.abort()
        assert_client_events_official(sim)


@pytest.mark.parametrize("when", ["at once", "after awaiting"])
async def test_raising_tool_sends_its_error_to_the_model_and_the_model_goes_on(when):
    async def explode(params: FunctionCallParams) -> None:
        if when == "after awaiting":
            await asyncio.sleep(0.01)
        raise RuntimeError("database unreachable")

    responder = ScriptedResponder(
        [
            Reply(function_calls=[FunctionCall("lookup", {"id": 7}, call_id="call_boom")]),
            answer_with_tool_outputs,
            Reply(text="Still here."),
        ]
    )
    async with tool_session(responder, {"lookup": explode}) as (harness, conn):
        await harness.send(say("Look it up"))
        await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
        await harness.send(say("Hello?"))
        await harness.down.wait_for(LLMFullResponseEndFrame, count=3)

    sent = outputs(conn)
    assert list(sent) == ["call_boom"] and len(sent["call_boom"]) == 1
    assert "lookup" in sent["call_boom"][0] and "fail" in sent["call_boom"][0].lower()
    assert creates_after_output(conn, "call_boom") == 2  # the answer, then the next turn
    assert "Tools said call_boom=" in spoken(harness) and "Still here." in spoken(harness)
    # The failure is reported to the application, as an application error, not fatal.
    errors = harness.up.of(ErrorFrame)
    assert len(errors) == 1 and not errors[0].fatal
    assert errors[0].category is ErrorCategory.APPLICATION
    assert "error" not in conn.server_event_types


async def test_one_failing_call_among_parallel_calls_still_gets_one_answer():
    async def explode(params: FunctionCallParams) -> None:
        raise ValueError("bad input")

    async def fine(params: FunctionCallParams) -> None:
        await asyncio.sleep(0.02)  # finishes after the failing one
        await params.result_callback({"ok": True})

    responder = ScriptedResponder(
        [
            Reply(
                function_calls=[
                    FunctionCall("explode", {}, call_id="call_bad"),
                    FunctionCall("fine", {}, call_id="call_good"),
                ]
            ),
            answer_with_tool_outputs,
        ]
    )
    async with tool_session(responder, {"explode": explode, "fine": fine}) as (harness, conn):
        await harness.send(say("Do both"))
        await harness.down.wait_for(LLMFullResponseEndFrame, count=2)

    sent = outputs(conn)
    assert sorted(sent) == ["call_bad", "call_good"]
    assert all(len(values) == 1 for values in sent.values())
    assert conn.client_event_types.count("response.create") == 2, "one answer for the round"
    assert "call_bad=" in spoken(harness) and "call_good=" in spoken(harness)


async def hang(params: FunctionCallParams) -> None:
    await asyncio.Event().wait()  # never calls result_callback
    await params.result_callback("never")


async def test_tool_that_never_answers_times_out_and_the_next_turn_is_answered():
    responder = ScriptedResponder(
        [
            Reply(function_calls=[FunctionCall("hang", {}, call_id="call_hang")]),
            Reply(text="That took too long."),
            Reply(text="Here I am."),
        ]
    )
    async with tool_session(responder, {"hang": hang}, timeout_secs=0.2) as (harness, conn):
        await harness.send(say("Try the slow tool"))
        await harness.down.wait_for(FunctionCallCancelFrame)
        await wait_until(lambda: "call_hang" in outputs(conn))
        # The server must not be left waiting for the call: it got an output that says why.
        assert outputs(conn) == {"call_hang": [TIMED_OUT_OUTPUT]}
        await harness.down.wait_for(LLMFullResponseEndFrame, count=2)  # the timeout's answer
        await harness.send(say("Anyone there?"))
        await harness.down.wait_for(LLMFullResponseEndFrame, count=3)

    assert "Here I am." in spoken(harness)
    assert outputs(conn) == {"call_hang": [TIMED_OUT_OUTPUT]}, "settled once"
    assert conn.client_event_types.count("response.create") == 3
    assert not [e for e in harness.up.of(ErrorFrame) if e.fatal]
    assert "error" not in conn.server_event_types


async def test_tool_timeout_asks_the_model_to_go_on_by_itself():
    # Pipecat marks a timed-out call's cancellation run_llm=True: nobody else will ask
    # the model to respond, unlike a cancellation caused by the user interrupting.
    responder = ScriptedResponder(
        [
            Reply(function_calls=[FunctionCall("hang", {}, call_id="call_hang")]),
            Reply(text="Sorry, that took too long."),
        ]
    )
    async with tool_session(responder, {"hang": hang}, timeout_secs=0.2) as (harness, conn):
        await harness.send(say("Try the slow tool"))
        cancel = await harness.down.wait_for(FunctionCallCancelFrame)
        assert cancel.run_llm
        await harness.down.wait_for(LLMFullResponseEndFrame, count=2, timeout_s=2)
    assert creates_after_output(conn, "call_hang") == 1
    assert "took too long" in spoken(harness)
