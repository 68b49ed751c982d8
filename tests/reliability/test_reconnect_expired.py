"""``session_expired`` at any point, and a peer that dies silently (keepalive).

Whatever the server was doing when the session expired, the service reconnects at
once, restores the conversation, and every user turn gets exactly one answer.
"""

from __future__ import annotations

import pytest
from pipecat.frames.frames import (
    ErrorFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai.core.reconnect import ReconnectOptions
from pipecat_realtime_openai.testing import (
    FunctionCall,
    Reply,
    ResponseContext,
    ScriptedResponder,
)
from tests.reliability.test_reconnect_support import (
    assert_no_fatal_error,
    assert_restored,
    first_context,
    said,
    started,
)
from tests.service.conftest import harnesses, simulator

__all__ = ["harnesses", "simulator"]

# (server event type, occurrence) after which the session expires, spread over a
# conversation of two typed turns, the first answered through a tool call.
EXPIRY_POINTS = [
    ("conversation.item.added", 1),
    ("conversation.item.done", 1),
    ("response.created", 1),
    ("response.function_call_arguments.delta", 1),
    ("response.function_call_arguments.done", 1),
    ("response.done", 1),
    ("response.created", 2),
    ("response.output_audio_transcript.delta", 1),
    ("response.output_audio.delta", 2),
    ("response.output_audio.done", 1),
    ("response.done", 2),
    ("conversation.item.added", 6),
    ("response.output_audio.delta", 5),
    ("response.done", 3),
]


class TimeTeller:
    """Answers from the conversation's state, so a response asked for again after a
    restore says what the cut one would have said."""

    def __init__(self) -> None:
        self.calls = 0

    def reply(self, context: ResponseContext) -> Reply:
        last = context.items[-1] if context.items else {}
        if last.get("type") == "function_call_output":
            return Reply(text="It is noon.")
        if "Thanks" in (context.last_user_text or ""):
            return Reply(text="You are welcome, goodbye.")
        self.calls += 1
        return Reply(function_calls=[FunctionCall("get_time", {}, call_id=f"call_{self.calls}")])


@pytest.mark.parametrize(("event_type", "count"), EXPIRY_POINTS)
async def test_session_expired_anywhere_continues_the_conversation(
    simulator, harnesses, event_type, count
):
    simulator.responder = TimeTeller()
    runs: list[str] = []

    async def get_time(params: FunctionCallParams) -> None:
        runs.append(params.tool_call_id)
        await params.result_callback({"time": "12:00"})

    service, harness, first, events = await started(simulator, harnesses)
    service.register_function("get_time", get_time)
    first.expire_after_event(event_type, count)
    await harness.send(first_context("What time is it?"))
    # One answer to the first turn (after the tool), then the second turn.
    await _answered(harness, simulator, 1)
    await harness.send(said("Thanks!"))
    await _answered(harness, simulator, 2)
    await events.wait(reconnected=1)
    await harness.stop()

    expired = [c for c in simulator.connections if "error" in c.server_event_types]
    assert len(expired) == 1 and expired[0] is first
    second = simulator.connections[1]
    assert_restored(first, second)
    assert len(runs) == 1, "the tool ran once"
    said_by_bot = [
        i["content"][0].get("transcript") or i["content"][0].get("text")
        for i in simulator.connections[-1].items
        if i.get("role") == "assistant"
    ]
    assert said_by_bot == ["It is noon.", "You are welcome, goodbye."]
    starts = len(harness.down.of(LLMFullResponseStartFrame))
    assert starts == len(harness.down.of(LLMFullResponseEndFrame))
    assert [i.reason for i in events.reconnected] == ["session_expired"]
    assert not harness.up.of(ErrorFrame), "a session expiry is handled, not reported"
    assert_no_fatal_error(harness)


async def _answered(harness, simulator, replies: int) -> None:
    """Wait until the client got `replies` responses that said something, on any connection.

    Response frames are the clock: a response's end frame follows its ``response.done``.
    """
    for ends in range(1, 100):
        await harness.down.wait_for(LLMFullResponseEndFrame, count=ends)
        spoken = [
            e
            for conn in simulator.connections
            for e in conn.server_events
            if e.get("type") == "response.done"
            and any(i.get("type") == "message" for i in e["response"].get("output") or [])
        ]
        if len(spoken) >= replies:
            return
    raise AssertionError("the conversation did not progress")


async def test_a_silently_dead_peer_is_noticed_by_keepalive(simulator, harnesses):
    options = ReconnectOptions(
        ping_interval=0.05,
        ping_timeout=0.1,
        initial_delay=0.01,
        max_delay=0.05,
        max_session_duration=None,
    )
    simulator.responder = ScriptedResponder([Reply(text="Hi."), Reply(text="Still here.")])
    _, harness, first, events = await started(simulator, harnesses, reconnect=options)
    await harness.send(first_context("Hello"))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await first.wait_for_server_event("response.done")
    first.freeze()
    await events.wait(reconnected=1)
    second = simulator.connections[-1]
    await harness.send(said("Are you there?"))
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    assert_restored(first, second)
    assert "keepalive" in events.reconnected[0].reason, "closed for a missed pong"
    assert_no_fatal_error(harness)
