"""Sideband control of a call the simulator carries, over real sockets.

The service connects with ``call_id``: no ``session.created`` is waited for, no audio
goes either way, transcripts and tools work, a hang-up ends the session, a dropped
socket reconnects to the same call. ``RealtimeCalls`` reaches the call endpoints.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    ErrorFrame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    LLMRunFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai import OpenAIRealtimeLLMService, RealtimeCallError, RealtimeCalls
from pipecat_realtime_openai.core.phase import Phase
from pipecat_realtime_openai.testing import (
    FunctionCall,
    RealtimeSimulator,
    Reply,
    ScriptedResponder,
)
from tests.service.conftest import (
    Recorder,
    assert_client_events_official,
    frames_of,
    tone,
    wait_until,
)

ACCEPTED_SESSION = {
    "type": "realtime",
    "model": "gpt-realtime-2.1",
    "instructions": "You answer the phone for Ada's bakery.",
    "audio": {
        "input": {"transcription": {"model": "gpt-realtime-whisper"}},
        "output": {"voice": "marin"},
    },
}


@pytest.fixture
async def sim():
    async with RealtimeSimulator(api_key="sk-test") as simulator:
        yield simulator
        assert_client_events_official(simulator)


async def ringing_accepted_call(sim: RealtimeSimulator) -> str:
    call_id = await sim.incoming_call({"From": "<sip:+15550100@example.com>"})
    await RealtimeCalls("sk-test", sim.calls_base_url).accept(call_id, ACCEPTED_SESSION)
    return call_id


def sideband_service(sim: RealtimeSimulator, call_id: str, **kwargs) -> OpenAIRealtimeLLMService:
    return OpenAIRealtimeLLMService(
        api_key="sk-test",
        base_url=sim.base_url,
        call_id=call_id,
        settings=OpenAIRealtimeLLMService.Settings(
            system_instruction="You answer the phone. Be brief."
        ),
        **kwargs,
    )


async def test_connects_by_call_id_and_configures_without_session_created(sim, harnesses):
    call_id = await ringing_accepted_call(sim)
    service = sideband_service(sim, call_id)
    assert service.url == f"{sim.base_url}?call_id={call_id}"
    harness = harnesses(service)
    await harness.start()
    conn = await sim.wait_for_connection()
    update = await conn.wait_for_client_event("session.update")
    await conn.wait_for_server_event("session.updated")
    await wait_until(lambda: service.core.phase is Phase.READY)
    assert "session.created" not in conn.server_event_types
    assert conn.client_event_types[0] == "session.update"
    # The update applies over the session the call was accepted with.
    assert update["session"]["instructions"] == "You answer the phone. Be brief."
    assert conn.session["instructions"] == "You answer the phone. Be brief."
    assert conn.session["audio"]["output"]["voice"] == "marin"
    assert sim.call(call_id).connections == [conn]
    await harness.stop()


async def test_late_session_created_sends_no_second_configuration(harnesses):
    async with RealtimeSimulator(sideband_session_created="late") as sim:
        call_id = await sim.incoming_call()
        await RealtimeCalls("sk", sim.calls_base_url).accept(call_id, ACCEPTED_SESSION)
        service = sideband_service(sim, call_id)
        harness = harnesses(service)
        await harness.start()
        conn = await sim.wait_for_connection()
        await conn.wait_for_server_event("session.created")
        await conn.wait_for_server_event("session.updated")
        await wait_until(lambda: service.core.phase is Phase.READY)
        assert conn.server_event_types[:2] == ["session.created", "session.updated"]
        await harness.stop()
        assert conn.client_event_types.count("session.update") == 1


async def test_no_audio_either_way_while_transcripts_flow(sim, harnesses):
    sim.responder = ScriptedResponder([Reply(text="We open at seven.")])
    call_id = await ringing_accepted_call(sim)
    service = sideband_service(sim, call_id)
    out = Recorder(FrameDirection.DOWNSTREAM)
    harness = harnesses(service, out)
    await harness.start()
    conn = await sim.wait_for_connection()
    await wait_until(lambda: service.core.phase is Phase.READY)
    # Audio reaching the service (a pipeline with an input transport) is not sent.
    for chunk in frames_of(tone(400), 24000):
        await harness.send(InputAudioRawFrame(audio=chunk, sample_rate=24000, num_channels=1))
    await sim.call(call_id).caller_says("When do you open?")
    await out.wait_for(LLMFullResponseEndFrame)
    user = await harness.up.wait_for(TranscriptionFrame)
    assert user.text == "When do you open?"
    assert "".join(f.text for f in out.of(TTSTextFrame)) == "We open at seven."
    assert "".join(f.text for f in out.of(LLMTextFrame)) == "We open at seven."
    assert out.of(TTSAudioRawFrame) == []
    assert "input_audio_buffer.append" not in conn.client_event_types
    assert "response.output_audio.delta" not in conn.server_event_types
    # The server answered the caller's turn by itself: the service asked for nothing.
    assert "response.create" not in conn.client_event_types
    assert "input_audio_buffer.commit" not in conn.client_event_types
    await harness.stop()


async def test_interruption_truncates_nothing(sim, harnesses):
    sim.responder = ScriptedResponder([Reply(text="A long story " * 30), Reply(text="Sure.")])
    # Replies stream at the pace of their (unsent) audio, so the story is still running.
    sim.pace = "realtime"
    call_id = await ringing_accepted_call(sim)
    service = sideband_service(sim, call_id)
    out = Recorder(FrameDirection.DOWNSTREAM)
    harness = harnesses(service, out)
    await harness.start()
    conn = await sim.wait_for_connection()
    await wait_until(lambda: service.core.phase is Phase.READY)
    call = sim.call(call_id)
    await call.caller_says("Tell me a story.")
    await conn.wait_for_server_event("response.output_audio_transcript.delta")
    await call.caller_says("Stop, please.")
    await out.wait_for(LLMFullResponseEndFrame, count=2)
    statuses = [e["response"]["status"] for e in conn.server_events if e["type"] == "response.done"]
    assert statuses == ["cancelled", "completed"]
    # The server cut its reply itself: the client truncated, cleared, cancelled nothing.
    assert "conversation.item.truncate" not in conn.client_event_types
    assert "response.cancel" not in conn.client_event_types
    assert "input_audio_buffer.clear" not in conn.client_event_types
    await harness.stop()


async def weather(params: FunctionCallParams) -> None:
    await params.result_callback({"sky": "sunny"})


async def test_tool_round_and_context(sim, harnesses):
    def after_tool(context) -> Reply:
        return Reply(text=f"It is {json.loads(context.function_outputs['call_w'])['sky']}.")

    sim.responder = ScriptedResponder(
        [
            Reply(text="Weather desk."),
            Reply(function_calls=[FunctionCall("get_weather", {"city": "Oslo"}, "call_w")]),
            after_tool,
        ]
    )
    call_id = await ringing_accepted_call(sim)
    service = sideband_service(sim, call_id)
    service.register_function("get_weather", weather)
    tool = FunctionSchema(
        name="get_weather",
        description="The weather in a city.",
        properties={"city": {"type": "string"}},
        required=["city"],
    )
    context = LLMContext(
        messages=[{"role": "user", "content": "I may ask about the weather."}],
        tools=ToolsSchema(standard_tools=[tool]),
    )
    pair = LLMContextAggregatorPair(context)
    out = Recorder(FrameDirection.DOWNSTREAM)
    harness = harnesses(pair.user(), service, out, pair.assistant())
    await harness.start()
    # The application greets the caller: the context (and its tools) reach the session.
    await harness.send(LLMRunFrame())
    conn = await sim.wait_for_connection()
    await out.wait_for(LLMFullResponseEndFrame)
    updates = [e for e in conn.client_events if e.get("type") == "session.update"]
    assert [t["name"] for t in updates[-1]["session"]["tools"]] == ["get_weather"]
    await sim.call(call_id).caller_says("Weather in Oslo?")
    await out.wait_for(LLMFullResponseEndFrame, count=3)
    outputs = [
        e["item"]
        for e in conn.client_events
        if e.get("type") == "conversation.item.create"
        and e["item"]["type"] == "function_call_output"
    ]
    assert [(o["call_id"], json.loads(o["output"])) for o in outputs] == [
        ("call_w", {"sky": "sunny"})
    ]
    # The greeting, and one response after the tool round: both asked for by the service.
    assert conn.client_event_types.count("response.create") == 2
    assert "".join(f.text for f in out.of(TTSTextFrame)) == "Weather desk.It is sunny."
    # The context learned the caller's turn and the reply.
    await wait_until(
        lambda: any(m.get("content") == "It is sunny." for m in context.get_messages())
    )
    await harness.stop()


async def test_rest_requests_reach_the_call_with_their_bodies(sim):
    calls = RealtimeCalls("sk-test", sim.calls_base_url)
    assert "sk-test" not in repr(calls)
    first = await sim.incoming_call()
    await calls.reject(first, status_code=486)
    assert sim.call(first).status == "rejected"
    assert sim.call(first).request("reject").body == {"status_code": 486}
    second = await sim.incoming_call()
    await calls.reject(second)
    assert (
        sim.call(second).request("reject").body is None
        or sim.call(second).request("reject").body == {}
    )
    third = await sim.incoming_call()
    await calls.accept(third, {"model": "gpt-realtime-2.1", "instructions": "Hi"})
    assert sim.call(third).request("accept").body == {
        "type": "realtime",
        "model": "gpt-realtime-2.1",
        "instructions": "Hi",
    }
    assert sim.call(third).state.session["instructions"] == "Hi"
    await calls.refer(third, "tel:+14155550123")
    assert sim.call(third).request("refer").body == {"target_uri": "tel:+14155550123"}
    assert sim.call(third).status == "referred"
    fourth = await sim.incoming_call()
    await calls.accept(fourth, ACCEPTED_SESSION)
    await calls.hangup(fourth)
    assert sim.call(fourth).request("hangup").body is None
    assert sim.call(fourth).status == "ended"


async def test_rest_errors_name_status_and_server_message(sim):
    calls = RealtimeCalls("sk-test", sim.calls_base_url)
    with pytest.raises(RealtimeCallError) as unknown:
        await calls.hangup("rtc_nope")
    assert unknown.value.status == 404
    assert unknown.value.code == "call_not_found"
    assert "Call 'rtc_nope' not found." in str(unknown.value)
    call_id = await sim.incoming_call()
    with pytest.raises(RealtimeCallError) as not_active:
        await calls.hangup(call_id)
    assert not_active.value.status == 400
    assert "is not active" in str(not_active.value)
    with pytest.raises(RealtimeCallError) as bad_key:
        await RealtimeCalls("sk-wrong-key", sim.calls_base_url).accept(call_id, ACCEPTED_SESSION)
    assert bad_key.value.status == 401
    assert "sk-wrong-key" not in str(bad_key.value)
    with pytest.raises(ValueError):
        await calls.accept("rtc_../../v1/models", ACCEPTED_SESSION)


async def test_hangup_ends_the_session_cleanly(sim, harnesses):
    call_id = await ringing_accepted_call(sim)
    service = sideband_service(sim, call_id)
    ended: list[str] = []
    reconnecting: list[object] = []

    @service.event_handler("on_call_ended")
    async def _ended(svc, reason: str) -> None:
        ended.append(reason)

    @service.event_handler("on_reconnecting")
    async def _reconnecting(svc, info) -> None:
        reconnecting.append(info)

    errors = Recorder(FrameDirection.UPSTREAM)
    harness = harnesses(errors, service)
    await harness.start()
    conn = await sim.wait_for_connection()
    await wait_until(lambda: service.core.phase is Phase.READY)
    await RealtimeCalls("sk-test", sim.calls_base_url).hangup(call_id)
    await asyncio.wait_for(conn.closed.wait(), 5)
    await wait_until(lambda: bool(ended))
    assert service.core.phase is Phase.CLOSED
    assert "code 1000" in ended[0]
    assert reconnecting == []
    assert errors.of(ErrorFrame) == []
    assert len(sim.connections) == 1
    await harness.stop()


async def test_dropped_socket_reconnects_to_the_same_call_without_restore(sim, harnesses):
    sim.responder = ScriptedResponder(
        [Reply(text="Hello there."), Reply(text="Hi back."), Reply(text="Still here.")]
    )
    call_id = await ringing_accepted_call(sim)
    service = sideband_service(sim, call_id)
    reconnected: list[object] = []

    @service.event_handler("on_reconnected")
    async def _reconnected(svc, info) -> None:
        reconnected.append(info)

    context = LLMContext(
        messages=[
            {"role": "user", "content": "The caller is Ada."},
        ]
    )
    pair = LLMContextAggregatorPair(context)
    out = Recorder(FrameDirection.DOWNSTREAM)
    harness = harnesses(pair.user(), service, out, pair.assistant())
    await harness.start()
    await harness.send(LLMRunFrame())
    first = await sim.wait_for_connection()
    await out.wait_for(LLMFullResponseEndFrame)
    call = sim.call(call_id)
    await call.caller_says("Hi!")
    await out.wait_for(LLMFullResponseEndFrame, count=2)
    items_before = [item["id"] for item in call.state.store.items]
    # The context's user message went in once, as the seed of the first socket.
    assert first.client_event_types.count("conversation.item.create") == 1
    first.drop()
    second = await sim.wait_for_connection(2)
    await wait_until(lambda: bool(reconnected))
    assert second.state is first.state
    assert "call_id=" + call_id in second.websocket.request.path
    await second.wait_for_server_event("session.updated")
    assert second.client_event_types == ["session.update"]
    # The server kept the conversation: nothing created again, nothing seeded.
    assert [item["id"] for item in call.state.store.items] == items_before
    await call.caller_says("Are you there?")
    await out.wait_for(LLMFullResponseEndFrame, count=3)
    assert "".join(f.text for f in out.of(TTSTextFrame)).endswith("Still here.")
    assert second.client_event_types == ["session.update"]
    await harness.stop()


async def test_a_refused_reconnect_to_a_gone_call_ends_the_session(sim, harnesses):
    call_id = await ringing_accepted_call(sim)
    service = sideband_service(sim, call_id)
    ended: list[str] = []

    @service.event_handler("on_call_ended")
    async def _ended(svc, reason: str) -> None:
        ended.append(reason)

    harness = harnesses(service)
    await harness.start()
    conn = await sim.wait_for_connection()
    await wait_until(lambda: service.core.phase is Phase.READY)
    # The call ends while the socket is down: the reconnect is refused with 404.
    sim.call(call_id).status = "ended"
    conn.drop()
    await wait_until(lambda: bool(ended))
    assert "HTTP 404" in ended[0]
    assert service.core.phase is Phase.CLOSED
    await harness.stop()


async def test_simulator_refuses_input_audio_on_a_sideband_socket(sim):
    call_id = await ringing_accepted_call(sim)
    async with websockets.connect(
        f"{sim.base_url}?call_id={call_id}",
        additional_headers={"Authorization": "Bearer sk-test"},
    ) as ws:
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": "AAAA"}))
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert error["type"] == "error"
    assert "sideband" in error["error"]["message"]


async def test_simulator_refuses_a_sideband_socket_to_no_accepted_call(sim):
    call_id = await sim.incoming_call()
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{sim.base_url}?call_id={call_id}"):
            pass
    assert refused.value.response.status_code == 404


async def test_no_api_key_in_logs_or_errors_of_the_rest_calls(sim):
    from loguru import logger

    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="TRACE")
    try:
        calls = RealtimeCalls("sk-test", sim.calls_base_url)
        call_id = await sim.incoming_call()
        await calls.accept(call_id, ACCEPTED_SESSION)
        await calls.hangup(call_id)
        with pytest.raises(RealtimeCallError) as refused:
            await RealtimeCalls("sk-secret-wrong", sim.calls_base_url).hangup(call_id)
    finally:
        logger.remove(sink)
    assert lines, "the REST calls log what they did"
    text = "\n".join(lines) + str(refused.value) + repr(refused.value)
    assert "sk-test" not in text
    assert "sk-secret-wrong" not in text


async def test_reset_conversation_leaves_the_calls_conversation_alone(sim, harnesses):
    call_id = await ringing_accepted_call(sim)
    service = sideband_service(sim, call_id)
    harness = harnesses(service)
    await harness.start()
    conn = await sim.wait_for_connection()
    await wait_until(lambda: service.core.phase is Phase.READY)
    await service.reset_conversation()
    assert service.core.phase is Phase.READY
    assert len(sim.connections) == 1 and not conn.closed.is_set()
    await harness.stop()
