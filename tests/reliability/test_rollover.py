"""Session rollover: a conversation longer than a session continues on new connections.

``max_session_duration`` is shortened to a fraction of a second so a few typed turns
span several sessions. Each rollover must happen at a quiet moment (no response
running), keep the whole conversation, and stay invisible: every turn is answered
exactly once and nothing is reported as an error.
"""

from __future__ import annotations

import asyncio
import itertools

from pipecat.frames.frames import (
    ErrorFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)

from pipecat_realtime_openai.core.reconnect import ReconnectOptions
from pipecat_realtime_openai.testing import (
    EchoResponder,
    RealtimeSimulator,
    Reply,
    ScriptedResponder,
)
from tests.reliability.test_reconnect_support import (
    assert_no_fatal_error,
    assert_restored,
    completed_conversation,
    first_context,
    said,
    started,
)
from tests.service.conftest import harnesses, simulator

__all__ = ["harnesses", "simulator"]


def rollover_options(max_session: float, grace: float) -> ReconnectOptions:
    return ReconnectOptions(
        initial_delay=0.01,
        max_delay=0.05,
        max_session_duration=max_session,
        rollover_grace=grace,
    )


async def test_long_conversation_rolls_over_at_quiet_moments(simulator, harnesses):
    simulator.responder = EchoResponder()
    options = rollover_options(0.4, 2.0)
    _, harness, _first, events = await started(simulator, harnesses, reconnect=options)
    turns = [f"Turn number {n}" for n in range(1, 8)]
    await harness.send(first_context(turns[0]))
    await harness.down.wait_for(LLMFullResponseEndFrame, count=1)
    for n, text in enumerate(turns[1:], start=2):
        await asyncio.sleep(0.15)  # the user pauses between turns; sessions age
        await harness.send(said(text))
        await harness.down.wait_for(LLMFullResponseEndFrame, count=n)
    await harness.stop()

    connections = simulator.connections
    assert len(connections) >= 3, "the conversation outlived several sessions"
    assert sum(bool(completed_conversation(c)) for c in connections) >= 2
    for old, new in itertools.pairwise(connections):
        assert_restored(old, new, allow_empty=True)
        # Quiet moment: every response of the old session had finished.
        types = old.server_event_types
        assert types.count("response.created") == types.count("response.done")
    assert {i.reason for i in events.reconnected} == {"session rollover"}
    # Invisible to the pipeline: one answer per turn, no errors.
    assert len(harness.down.of(LLMFullResponseStartFrame)) == len(turns)
    assert len(harness.down.of(LLMFullResponseEndFrame)) == len(turns)
    assert not harness.up.of(ErrorFrame)
    last = connections[-1]
    user_texts = [i["content"][0]["text"] for i in last.items if i.get("role") == "user"]
    assert user_texts == turns[: len(user_texts)] and len(user_texts) >= len(turns) - 1


async def test_rollover_happens_by_the_deadline_even_mid_response(harnesses):
    long_reply = "This answer goes on and on. " * 8  # seconds of audio at real time
    responder = ScriptedResponder([Reply(text=long_reply), Reply(text="Ok.")])
    options = rollover_options(0.3, 0.6)
    async with RealtimeSimulator(responder=responder, pace="realtime") as sim:
        _, harness, _, events = await started(sim, harnesses, reconnect=options)
        await harness.send(first_context("Tell me a long story."))
        # The cut reply's end frame, then the end of the reply asked for again.
        await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
        await harness.stop()

    cut = [
        c
        for c in sim.connections
        if "response.created" in c.server_event_types
        and "response.done" not in c.server_event_types
    ]
    assert len(cut) == 1, "the long reply was cut once, by the deadline"
    after = sim.connections[sim.connections.index(cut[0]) + 1]
    assert_restored(cut[0], after)
    assert "response.done" in after.server_event_types
    assert after.client_event_types.count("response.create") == 1, "the cut reply asked again"
    assert {i.reason for i in events.reconnected} == {"session rollover"}
    assert_no_fatal_error(harness)
