"""run_inference: a one-shot answer out of band, leaving the conversation and turn frames alone."""

from __future__ import annotations

from pipecat.frames.frames import (
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai.testing import Reply, ScriptedResponder
from tests.service.conftest import make_service


async def test_run_inference_answers_out_of_band(simulator, harnesses):
    simulator.responder = ScriptedResponder([Reply(text="Hi there."), Reply(text="A summary.")])
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await harness.send(LLMContextFrame(LLMContext(messages=[{"role": "user", "content": "Hi"}])))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    items_before = [item["id"] for item in conn.items]

    summary = await service.run_inference(
        LLMContext(messages=[{"role": "developer", "content": "Conversation: hi, hi there."}]),
        system_instruction="Summarise in one line.",
        max_tokens=50,
    )
    await harness.stop()

    assert summary == "A summary."
    request = [e for e in conn.client_events if e.get("type") == "response.create"][-1]
    assert request["response"]["conversation"] == "none"
    assert request["response"]["instructions"] == "Summarise in one line."
    assert request["response"]["max_output_tokens"] == 50
    assert request["response"]["input"][0]["content"][0]["text"] == "Conversation: hi, hi there."
    assert [item["id"] for item in conn.items] == items_before, "nothing joins the conversation"
    # The answer is no bot turn: one start/end pair and no text of it downstream.
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 1
    assert "A summary." not in "".join(f.text for f in harness.down.of(LLMTextFrame))


async def test_run_inference_fails_when_the_session_is_closed(simulator):
    service = make_service(simulator)
    try:
        await service.run_inference(LLMContext(messages=[{"role": "user", "content": "x"}]))
    except RuntimeError as exc:
        assert "closed" in str(exc)
    else:
        raise AssertionError("run_inference answered without a session")
