"""Pipecat Flows on this service: the example's pizza order, against the simulator.

Each node's instructions and functions must be on the server before its first reply,
and the server's conversation must follow each transition's context strategy (APPEND
keeps it, RESET_WITH_SUMMARY leaves a summary and the new task, RESET only the task).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from pipecat.flows import FlowManager
from pipecat.frames.frames import LLMFullResponseEndFrame, LLMMessagesAppendFrame, TTSTextFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from tests.service.conftest import make_service
from tests.service.test_context_mirror import shape

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import flows_bot

pytestmark = pytest.mark.filterwarnings("ignore:.*RESET_WITH_SUMMARY:DeprecationWarning")


class Snapshots(FrameProcessor):
    """At the end of each bot reply: its text and what the server holds then."""

    def __init__(self, conn_of: Any) -> None:
        super().__init__()
        self._conn_of = conn_of
        self._text: list[str] = []
        self.replies: list[tuple[str, list[tuple]]] = []
        self._changed = asyncio.Event()

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSTextFrame):
            self._text.append(frame.text)
        if isinstance(frame, LLMFullResponseEndFrame):
            reply = "".join(self._text).strip()
            self._text.clear()
            if reply:
                self.replies.append((reply, [shape(i) for i in self._conn_of().items]))
                self._changed.set()
        await self.push_frame(frame, direction)

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.replies) < count:
                self._changed.clear()
                await self._changed.wait()


def responses_with_session(conn) -> list[tuple[str | None, list[str], str]]:
    """For each conversation response.create: the instructions and tools then in force."""
    instructions: str | None = None
    tools: list[str] = []
    seen = []
    for event in conn.client_events:
        if event.get("type") == "session.update":
            session = event["session"]
            instructions = session.get("instructions", instructions)
            if "tools" in session:
                tools = [tool["name"] for tool in session["tools"]]
        elif event.get("type") == "response.create":
            kind = (event.get("response") or {}).get("conversation", "auto")
            # Pipecat adds its own guidance (async tools) after the node's role.
            first_line = (instructions or "").split("\n")[0]
            seen.append((first_line, list(tools), kind))
    return seen


async def test_a_three_transition_flow_runs_on_the_realtime_service(simulator, harnesses):
    simulator.responder = flows_bot.scripted_model()
    service = make_service(simulator, settings=flows_bot.build_service("x", None).settings)
    pair = LLMContextAggregatorPair(LLMContext())
    snapshots = Snapshots(lambda: simulator.connections[0])
    harness = harnesses(pair.user(), service, snapshots, pair.assistant())
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    flow = FlowManager(worker=harness.worker, llm=service, context_aggregator=pair)
    await flow.initialize(flows_bot.greeting_node())
    await snapshots.wait_for(1)
    for count, turn in enumerate(flows_bot.CUSTOMER_TURNS, start=2):
        message = {"role": "user", "content": turn}
        await harness.send(LLMMessagesAppendFrame(messages=[message], run_llm=True))
        await snapshots.wait_for(count)
    await harness.stop()

    assert flow.state["order"] == {"pizza": "margherita", "size": "large"}
    role = flows_bot.ROLE
    # Every reply was asked for with its node's instructions and functions in force.
    assert responses_with_session(conn) == [
        (role, ["start_order"], "auto"),  # greeting
        (role, ["start_order"], "auto"),  # -> start_order()
        (role, ["record_order"], "auto"),  # order (APPEND)
        (role, ["record_order"], "auto"),  # -> record_order(...)
        (role, ["record_order"], "none"),  # the summary, out of band
        (role, ["confirm_order"], "auto"),  # confirm (RESET_WITH_SUMMARY)
        (role, ["confirm_order"], "auto"),  # -> confirm_order()
        (role, [], "auto"),  # goodbye (RESET)
    ]
    summary_request = [e for e in conn.client_events if e.get("type") == "response.create"][4]
    assert summary_request["response"]["instructions"] == flows_bot.SUMMARY_PROMPT

    by_reply = dict(snapshots.replies)
    # APPEND: the order node's reply follows the whole conversation so far.
    assert by_reply["Which pizza, and what size?"] == [
        ("system", "Greet the customer. When they want to order, call start_order."),
        ("assistant", "Hi, this is Tom. What can I get you?"),
        ("user", "I'd like a pizza, please."),
        ("call", by_reply_call(conn, "start_order"), "start_order", "{}"),
        ("output", by_reply_call(conn, "start_order"), '{"status": "acknowledged"}'),
        ("system", "Ask which pizza and size, then call record_order with them."),
        ("assistant", "Which pizza, and what size?"),
    ]
    # RESET_WITH_SUMMARY: the summary and the new task, nothing of the old history.
    assert by_reply["One large margherita, is that right?"] == [
        (
            "system",
            "Here's a summary of the conversation:\nThe customer ordered a large margherita pizza.",
        ),
        ("system", "Read the order back. When the customer agrees, call confirm_order."),
        ("assistant", "One large margherita, is that right?"),
    ]
    # RESET: only the goodbye task, and the goodbye.
    assert by_reply["Thank you, goodbye!"] == [
        ("system", "Thank the customer; say goodbye."),
        ("assistant", "Thank you, goodbye!"),
    ]
    assert [e for e in conn.server_events if e["type"] == "error"] == []


def by_reply_call(conn, name: str) -> str:
    for event in conn.server_events:
        if event["type"] == "response.function_call_arguments.done" and event["name"] == name:
            return event["call_id"]
    raise AssertionError(f"no call of {name}")
