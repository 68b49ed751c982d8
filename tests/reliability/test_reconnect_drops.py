"""Dropped connections: the service reconnects, restores the conversation, answers once.

Every test drops the simulator connection at an exact point, then checks that the new
connection holds the old conversation (``assert_restored``), that the frames of a cut
response were closed, and that the pipeline never saw a fatal error.
"""

from __future__ import annotations

import asyncio
import base64

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    FunctionCallResultFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai.testing import FunctionCall, Reply, ScriptedResponder
from tests.reliability.test_reconnect_support import (
    assert_no_fatal_error,
    assert_restored,
    audio_frames,
    first_context,
    said,
    started,
)
from tests.service.conftest import harnesses, silence, simulator, tone

__all__ = ["harnesses", "simulator"]


def item_creates(conn) -> list[dict]:
    return [e["item"] for e in conn.client_events if e.get("type") == "conversation.item.create"]


async def test_drop_mid_response_closes_its_frames_and_answers_again(simulator, harnesses):
    simulator.responder = ScriptedResponder(
        [Reply(text="Hello there, nice to meet you."), Reply(text="Sorry, I was cut off.")]
    )
    _service, harness, first, events = await started(simulator, harnesses)
    first.drop_after_event("response.output_audio.delta")
    await harness.send(first_context("Hi!"))
    second = await simulator.wait_for_connection(count=2)
    await events.wait(reconnected=1)
    await second.wait_for_server_event("response.done")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    assert_restored(first, second)
    assert [i["id"] for i in item_creates(second)] == [first.items[0]["id"]]
    # The cut response was closed downstream, and asked for again exactly once.
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 2
    assert len(harness.down.of(LLMFullResponseEndFrame)) == 2
    assert len(harness.down.of(TTSStartedFrame)) == len(harness.down.of(TTSStoppedFrame)) == 2
    assert second.client_event_types.count("response.create") == 1
    info = events.reconnected[0]
    assert info.attempt == 1 and "unexpectedly" in info.reason and info.downtime > 0
    assert_no_fatal_error(harness)


async def test_drop_before_the_server_answers_a_turn_asks_for_the_answer(simulator, harnesses):
    simulator.responder = ScriptedResponder([Reply(text="One."), Reply(text="Two.")])
    _service, harness, first, _events = await started(simulator, harnesses)
    await harness.send(first_context("Count with me."))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await first.wait_for_server_event("response.done")
    # The next request reaches the server, whose response.created never comes back.
    first.drop_after_event("conversation.item.done", count=3)
    await harness.send(said("Next number?"))
    second = await simulator.wait_for_connection(count=2)
    await second.wait_for_server_event("response.done")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=3)
    await harness.stop()

    assert_restored(first, second)
    assert second.client_event_types.count("response.create") == 1
    # The request that was cut got its closing frame; the new one its own pair.
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 3
    assert len(harness.down.of(LLMFullResponseEndFrame)) == 3
    assert_no_fatal_error(harness)


async def test_drop_mid_arguments_asks_again_and_the_call_is_made_once(simulator, harnesses):
    call = FunctionCall("get_weather", {"city": "Oslo"}, call_id="call_cut")
    again = FunctionCall("get_weather", {"city": "Oslo"}, call_id="call_again")
    simulator.responder = ScriptedResponder(
        [Reply(function_calls=[call]), Reply(function_calls=[again]), Reply(text="Snowing.")]
    )
    runs: list[str] = []

    async def get_weather(params: FunctionCallParams) -> None:
        runs.append(params.tool_call_id)
        await params.result_callback({"sky": "snow"})

    service, harness, first, _events = await started(simulator, harnesses)
    service.register_function("get_weather", get_weather)
    first.drop_after_event("response.function_call_arguments.delta")
    await harness.send(first_context("Weather in Oslo?"))
    second = await simulator.wait_for_connection(count=2)
    await second.wait_for_server_event("response.done", count=2)
    await harness.stop()

    assert_restored(first, second)
    # The half-streamed call never ran and was not restored; the model called again.
    assert runs == ["call_again"]
    assert "call_cut" not in str(item_creates(second))
    assert [i["type"] for i in second.items][-3:] == [
        "function_call",
        "function_call_output",
        "message",
    ]
    assert_no_fatal_error(harness)


async def test_result_arriving_during_the_outage_is_delivered_after_restore(simulator, harnesses):
    call = FunctionCall("lookup", {"q": "x"}, call_id="call_slow")
    simulator.responder = ScriptedResponder([Reply(function_calls=[call]), Reply(text="Found.")])
    release = asyncio.Event()

    async def lookup(params: FunctionCallParams) -> None:
        await release.wait()
        await params.result_callback({"answer": 42})

    service, harness, first, events = await started(simulator, harnesses)
    service.register_function("lookup", lookup, cancel_on_interruption=False)
    first.drop_after_event("response.function_call_arguments.done")
    await harness.send(first_context("Look it up."))
    await events.wait(reconnecting=1)
    simulator.faults.refuse_connections = 10**6  # keep the outage open
    release.set()
    await harness.down.wait_for(FunctionCallResultFrame)
    simulator.faults.refuse_connections = 0
    await events.wait(reconnected=1)
    second = simulator.connections[-1]
    await second.wait_for_server_event("response.done")
    await harness.stop()

    created = item_creates(second)
    assert [i["type"] for i in created] == ["message", "function_call", "function_call_output"]
    output = {k: v for k, v in created[2].items() if k != "id"}
    assert output == {
        "type": "function_call_output",
        "call_id": "call_slow",
        "output": '{"answer": 42}',
    }
    # Restore first, then the result, then the one response the result asked for.
    types = [t for t in second.client_event_types if t != "input_audio_buffer.append"]
    assert types[-1] == "response.create" and types.count("response.create") == 1
    assert "error" not in second.server_event_types
    assert_no_fatal_error(harness)


async def test_a_truncated_reply_is_restored_as_far_as_the_user_heard_it(simulator, harnesses):
    # The server drops the transcript of a truncated item; a restore must not hand the
    # model the words playback never reached.
    story = " ".join(["Let me tell you a long story about the sea and the sky"] * 3)
    simulator.pace = "realtime"
    simulator.responder = ScriptedResponder([Reply(text=story), Reply(text="Ok")])
    _service, harness, first, events = await started(simulator, harnesses)
    await harness.send(first_context("Story"))
    await harness.down.wait_for(TTSStartedFrame)
    await harness.send(BotStartedSpeakingFrame(), upstream=True)
    await harness.down.wait_for(TTSAudioRawFrame, count=5)
    await harness.send(*audio_frames(tone(400) + silence(500)))
    truncate = await first.wait_for_client_event("conversation.item.truncate")
    await first.wait_for_server_event("conversation.item.truncated")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    first.drop()
    second = await simulator.wait_for_connection(count=2)
    await events.wait(reconnected=1)
    await harness.stop()

    item_id = truncate["item_id"]
    [restored] = [item for item in item_creates(second) if item.get("id") == item_id]
    assert restored["content"][0]["type"] == "output_text"
    heard = restored["content"][0]["text"]
    # What the server generated before the barge-in cancelled the reply.
    events_of_item = [e for e in first.server_events if e.get("item_id") == item_id]
    spoken = "".join(
        e["delta"] for e in events_of_item if e["type"] == "response.output_audio_transcript.delta"
    )
    received_ms = sum(
        len(base64.b64decode(e["delta"])) // 48
        for e in events_of_item
        if e["type"] == "response.output_audio.delta"
    )
    assert heard and spoken.startswith(heard) and len(heard) < len(spoken)
    # The heard share of the text follows the heard share of the audio, to a word.
    share = truncate["audio_end_ms"] / received_ms
    assert abs(len(heard) - share * len(spoken)) <= max(map(len, spoken.split())) + 1
    assert_no_fatal_error(harness)
