"""Turn timelines over a real socket: a spoken turn, a tool turn and a barge-in."""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    MetricsFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai.core.turn_timeline import TurnTimeline
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.service.timeline_metrics import TurnTimelineMetricsData
from pipecat_realtime_openai.testing import FunctionCall, Reply, ScriptedResponder
from tests.service.conftest import frames_of, make_service, silence, tone, wait_until

SPOKEN_ORDER = [
    "user_speech_started",
    "user_speech_stopped",
    "committed",
    "response_created",
    "first_audio_received",
    "first_audio_pushed",
    "reply_done",
]


def user_speech() -> list[InputAudioRawFrame]:
    audio = tone(400) + silence(600)
    return [
        InputAudioRawFrame(audio=a, sample_rate=24000, num_channels=1)
        for a in frames_of(audio, 24000)
    ]


def record_timelines(service: OpenAIRealtimeLLMService) -> list[TurnTimeline]:
    timelines: list[TurnTimeline] = []

    @service.event_handler("on_turn_timeline")
    async def _on_turn(service: OpenAIRealtimeLLMService, timeline: TurnTimeline) -> None:
        timelines.append(timeline)

    return timelines


def timeline_metrics(frames) -> list[TurnTimelineMetricsData]:
    return [
        item
        for frame in frames
        if isinstance(frame, MetricsFrame)
        for item in frame.data
        if isinstance(item, TurnTimelineMetricsData)
    ]


def assert_in_order(timeline: TurnTimeline, names: list[str]) -> None:
    seen = [name for name, _ in timeline.events()]
    assert [n for n in seen if n in names] == names, seen
    times = [t for _, t in timeline.events()]
    assert times == sorted(times)


def assert_plausible(timeline: TurnTimeline) -> None:
    for latency in (
        timeline.stop_to_commit,
        timeline.commit_to_first_audio,
        timeline.voice_to_voice,
        timeline.first_audio_to_done,
    ):
        assert latency is not None and 0 <= latency < 5, timeline


async def test_a_spoken_turn_yields_one_timeline_and_one_metrics_item(simulator, harnesses):
    simulator.transcripts.put("Hello there")
    simulator.responder = ScriptedResponder([Reply(text="Hi, how can I help?")])
    service = make_service(simulator)
    timelines = record_timelines(service)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await harness.send(*user_speech())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await wait_until(lambda: len(timelines) == 1)
    await harness.stop()

    (turn,) = timelines
    assert turn.index == 1 and turn.spoken
    assert_in_order(turn, SPOKEN_ORDER)
    assert_plausible(turn)
    assert turn.first_audio_received is not None and turn.first_audio_pushed is not None
    assert turn.first_audio_pushed >= turn.first_audio_received
    committed = next(e for e in conn.server_events if e["type"] == "input_audio_buffer.committed")
    assert turn.user_item_ids == (committed["item_id"],)
    assert turn.interruption is None and turn.tool_calls == ()
    (metrics,) = timeline_metrics(harness.down.frames)
    assert metrics.turn == 1 and metrics.spoken
    assert metrics.voice_to_voice == turn.voice_to_voice
    assert metrics.processor == service.name
    # The metrics frame follows the end of the reply.
    frames = harness.down.frames
    end = frames.index(harness.down.of(LLMFullResponseEndFrame)[0])
    assert any(isinstance(f, MetricsFrame) and timeline_metrics([f]) for f in frames[end:])


async def test_a_tool_turn_is_one_timeline_with_the_call(simulator, harnesses):
    simulator.transcripts.put("Weather in Paris?")

    def answer(context) -> Reply:
        return Reply(text=f"It is {context.function_outputs.get('call_w')}")

    simulator.responder = ScriptedResponder(
        [Reply(function_calls=[FunctionCall("get_weather", {"city": "Paris"}, "call_w")]), answer]
    )
    service = make_service(simulator)

    async def weather(params: FunctionCallParams) -> None:
        await asyncio.sleep(0.05)
        await params.result_callback({"sky": "sunny"})

    service.register_function("get_weather", weather)
    timelines = record_timelines(service)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await harness.send(*user_speech())
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await wait_until(lambda: len(timelines) == 1)
    await harness.stop()

    (turn,) = timelines
    assert len(turn.response_ids) == 2
    (call,) = turn.tool_calls
    assert (call.name, call.call_id) == ("get_weather", "call_w")
    assert call.duration is not None and 0.05 <= call.duration < 5
    assert_in_order(
        turn,
        [
            "user_speech_stopped",
            "committed",
            "response_created",
            "tool_started:get_weather",
            "tool_ended:get_weather",
            "first_audio_received",
            "reply_done",
        ],
    )
    assert_plausible(turn)
    (metrics,) = timeline_metrics(harness.down.frames)
    assert [(c.name, c.seconds) for c in metrics.tool_calls] == [("get_weather", call.duration)]


async def test_a_barge_in_ends_the_talked_over_turn_with_what_was_heard(simulator, harnesses):
    simulator.pace = "realtime"
    simulator.transcripts.put("Stop")
    simulator.responder = ScriptedResponder(
        [
            Reply(text="Let me tell you a long story about the sea and the sky " * 3),
            Reply(text="Ok"),
        ]
    )
    service = make_service(simulator)
    timelines = record_timelines(service)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await harness.send(
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "Story"}]))
    )
    await harness.down.wait_for(TTSStartedFrame)
    await harness.send(BotStartedSpeakingFrame(), upstream=True)
    await harness.down.wait_for(TTSAudioRawFrame, count=5)
    await harness.send(*user_speech())
    truncate = await conn.wait_for_client_event("conversation.item.truncate")
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await wait_until(lambda: len(timelines) == 2)
    await harness.stop()

    story, answer = timelines
    assert (story.index, answer.index) == (1, 2)
    # The typed request has no user speech; the cut reply knows what was heard.
    assert not story.spoken
    assert story.interruption is not None
    assert story.interruption.heard_ms == truncate["audio_end_ms"]
    assert story.cancelled
    assert_in_order(
        story, ["response_created", "first_audio_received", "interrupted", "reply_done"]
    )
    assert story.created_to_first_audio is not None and story.created_to_first_audio >= 0
    # The user's speech is the next turn, answered normally.
    assert answer.spoken and answer.interruption is None
    assert answer.user_speech_started == story.interruption.at
    assert_in_order(answer, SPOKEN_ORDER)
    assert_plausible(answer)
    metrics = timeline_metrics(harness.down.frames)
    assert [(m.turn, m.interrupted, m.heard_ms) for m in metrics] == [
        (1, True, truncate["audio_end_ms"]),
        (2, False, None),
    ]
