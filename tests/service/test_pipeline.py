"""The service inside a real bot pipeline: aggregators, realtime mode, context mirror."""

from __future__ import annotations

from pipecat.frames.frames import InputAudioRawFrame, LLMFullResponseEndFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai import events
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import FunctionCall, Reply, ScriptedResponder
from tests.service.conftest import Recorder, frames_of, make_service, silence, tone


def spoken_turn() -> list[InputAudioRawFrame]:
    audio = tone(500, 16000) + silence(700, 16000)
    return [
        InputAudioRawFrame(audio=a, sample_rate=16000, num_channels=1)
        for a in frames_of(audio, 16000)
    ]


async def test_spoken_turns_with_aggregators_never_resend_transcripts(simulator, harnesses):
    simulator.transcripts.put("What's the weather?", "Thanks a lot")
    simulator.responder = ScriptedResponder(
        [
            Reply(function_calls=[FunctionCall("get_weather", {"city": "Oslo"}, call_id="call_w")]),
            Reply(text="It is snowing in Oslo."),
            Reply(text="You are welcome."),
        ]
    )
    settings = OpenAIRealtimeLLMService.Settings(
        session_properties=events.SessionProperties(
            audio=events.AudioConfiguration(
                input=events.AudioInput(transcription=events.InputAudioTranscription())
            )
        )
    )
    service = make_service(simulator, settings=settings)

    async def get_weather(params: FunctionCallParams) -> None:
        await params.result_callback({"sky": "snow"})

    service.register_function("get_weather", get_weather)
    context = LLMContext()
    pair = LLMContextAggregatorPair(context)
    out = Recorder(FrameDirection.DOWNSTREAM)
    harness = harnesses(pair.user(), service, out, pair.assistant())
    await harness.start()
    conn = await simulator.wait_for_connection()
    await harness.send(*spoken_turn())
    await out.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.send(*spoken_turn())
    await out.wait_for(LLMFullResponseEndFrame, count=3)
    await conn.wait_for_server_event(
        "conversation.item.input_audio_transcription.completed", count=2
    )
    await harness.stop()

    # Only the tool output was created by the client; speech reached the server as audio.
    created = [e["item"] for e in conn.client_events if e.get("type") == "conversation.item.create"]
    assert [i["type"] for i in created] == ["function_call_output"], created
    assert conn.client_event_types.count("response.create") == 1
    texts = [
        m.get("content") for m in context.get_messages() if m.get("role") in ("user", "assistant")
    ]
    assert "What's the weather?" in texts
    assert any("snowing" in (t or "") for t in texts)
