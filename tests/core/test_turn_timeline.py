"""Turn timelines: the moments of each turn and the latencies between them (fake clock)."""

from __future__ import annotations

import pytest

from pipecat_realtime_openai.core.actions import TurnEnded
from pipecat_realtime_openai.core.reconnect import ConnectionEnd, ReconnectOptions
from pipecat_realtime_openai.core.turn_timeline import (
    ToolCallTiming,
    TurnInterruption,
    TurnTimeline,
    TurnTimelines,
)
from tests.core.session_kit import Kit, response

# -- the recorder on its own ---------------------------------------------------------------


def done(
    timelines: TurnTimelines,
    response_id: str,
    now: float,
    *,
    calls_tools: bool = False,
    playing: bool = False,
    status: str = "completed",
) -> list[TurnTimeline]:
    return timelines.response_done(
        response_id,
        now,
        reply_items=[f"item_{response_id}"],
        calls_tools=calls_tools,
        status=status,
        playing=playing,
    )


def spoken_turn(timelines: TurnTimelines, start: float, response_id: str) -> list[TurnTimeline]:
    """User speaks 1 s; commit 0.2 s later; audio 0.3 s after that; done 1 s later."""
    ended = timelines.user_started(start)
    ended += timelines.user_stopped(start + 1.0)
    timelines.committed(f"user_{response_id}", start + 1.2)
    ended += timelines.response_created(response_id, start + 1.25)
    assert timelines.awaiting_audio
    timelines.audio_received(response_id, start + 1.5)
    assert not timelines.awaiting_audio and timelines.awaiting_push
    timelines.audio_pushed(start + 1.501)
    assert not timelines.awaiting_push
    return ended + done(timelines, response_id, start + 2.5)


def test_a_spoken_turn_has_exact_latencies() -> None:
    timelines = TurnTimelines()
    (turn,) = spoken_turn(timelines, 10.0, "resp_1")
    assert turn.index == 1
    assert turn.spoken
    assert turn.user_item_ids == ("user_resp_1",)
    assert turn.response_ids == ("resp_1",)
    assert turn.reply_item_ids == ("item_resp_1",)
    assert turn.stop_to_commit == pytest.approx(0.2)
    assert turn.commit_to_first_audio == pytest.approx(0.301)
    assert turn.voice_to_voice == pytest.approx(0.501)
    assert turn.created_to_first_audio == pytest.approx(0.251)
    assert turn.first_audio_to_done == pytest.approx(0.999)
    assert turn.interruption is None and not turn.cancelled
    assert [name for name, _ in turn.events()] == [
        "user_speech_started",
        "user_speech_stopped",
        "committed",
        "response_created",
        "first_audio_received",
        "first_audio_pushed",
        "reply_done",
    ]


def test_turns_are_numbered_and_only_the_first_audio_counts() -> None:
    timelines = TurnTimelines()
    first = spoken_turn(timelines, 0.0, "resp_1")
    # More audio of a finished turn changes nothing (the hot path is not even asked).
    assert not timelines.awaiting_audio
    second = spoken_turn(timelines, 5.0, "resp_2")
    assert [t.index for t in first + second] == [1, 2]
    assert second[0].first_audio_received == 6.5


def test_a_tool_round_is_one_turn_with_the_call_and_its_duration() -> None:
    timelines = TurnTimelines()
    timelines.user_started(0.0)
    timelines.user_stopped(1.0)
    timelines.committed("user_1", 1.1)
    timelines.response_created("resp_1", 1.2)
    timelines.tool_started("resp_1", "call_1", "get_weather", 1.4)
    assert done(timelines, "resp_1", 1.45, calls_tools=True) == []
    timelines.tool_ended("call_1", 1.9)
    timelines.response_created("resp_2", 1.95)
    timelines.audio_received("resp_2", 2.2)
    timelines.audio_pushed(2.2)
    (turn,) = done(timelines, "resp_2", 3.0)
    assert turn.response_ids == ("resp_1", "resp_2")
    assert turn.tool_calls == (ToolCallTiming("get_weather", "call_1", 1.4, 1.9),)
    assert turn.tool_calls[0].duration == pytest.approx(0.5)
    assert turn.tool_seconds == pytest.approx(0.5)
    assert turn.voice_to_voice == pytest.approx(1.2)
    names = [name for name, _ in turn.events()]
    assert names.index("tool_started:get_weather") < names.index("tool_ended:get_weather")
    assert names.index("tool_ended:get_weather") < names.index("first_audio_received")


def test_talking_over_a_running_reply_ends_its_turn_at_its_done() -> None:
    timelines = TurnTimelines()
    timelines.response_created("resp_1", 0.0)  # a typed turn
    timelines.audio_received("resp_1", 0.4)
    timelines.audio_pushed(0.4)
    # Server VAD: the barge-in comes first, then the speech opens the next turn.
    assert timelines.interrupted(2.0, 1200) == []
    assert timelines.user_started(2.0) == []
    # The second call (the pipeline's interruption) changes nothing.
    assert timelines.interrupted(2.1, 1300) == []
    (cut,) = done(timelines, "resp_1", 2.2, status="cancelled")
    assert cut.index == 1 and not cut.spoken
    assert cut.interruption == TurnInterruption(2.0, 1200)
    assert cut.cancelled
    assert cut.created_to_first_audio == pytest.approx(0.4)
    timelines.user_stopped(3.0)
    timelines.committed("user_2", 3.1)
    timelines.response_created("resp_2", 3.2)
    timelines.audio_received("resp_2", 3.5)
    (answer,) = done(timelines, "resp_2", 4.0)
    assert answer.index == 2 and answer.spoken and answer.interruption is None
    assert answer.user_speech_started == 2.0
    # Without a recorded push the received audio stands in for it.
    assert answer.voice_to_voice == pytest.approx(0.5)


def test_a_reply_still_playing_ends_with_playback_or_the_interruption() -> None:
    timelines = TurnTimelines()
    timelines.response_created("resp_1", 0.0)
    timelines.audio_received("resp_1", 0.1)
    assert done(timelines, "resp_1", 0.5, playing=True) == []
    (played,) = timelines.playback_stopped(3.0)
    assert played.playback_stopped == 3.0 and played.interruption is None

    timelines.response_created("resp_2", 4.0)
    timelines.audio_received("resp_2", 4.1)
    assert done(timelines, "resp_2", 4.5, playing=True) == []
    (cut,) = timelines.interrupted(5.0, 900)
    assert cut.interruption == TurnInterruption(5.0, 900) and not cut.cancelled
    assert timelines.playback_stopped(5.1) == []


def test_a_reply_that_plays_on_under_new_speech_is_not_interrupted() -> None:
    # interrupt_response off: the speech opens the next turn, the reply finishes.
    timelines = TurnTimelines()
    timelines.response_created("resp_1", 0.0)
    timelines.audio_received("resp_1", 0.1)
    assert timelines.user_started(0.5) == []
    timelines.user_stopped(1.0)
    (first,) = done(timelines, "resp_1", 1.5)
    assert first.index == 1 and first.interruption is None and not first.spoken
    timelines.committed("user_2", 1.6)
    timelines.response_created("resp_2", 1.7)
    (second,) = done(timelines, "resp_2", 2.0)
    assert second.index == 2 and second.stop_to_commit == pytest.approx(0.6)


def test_a_text_reply_records_its_first_text_and_no_audio() -> None:
    timelines = TurnTimelines()
    timelines.response_created("resp_1", 1.0)
    assert timelines.awaiting_text
    timelines.text_pushed("resp_1", 1.3)
    assert not timelines.awaiting_text
    timelines.text_pushed("resp_1", 1.4)
    (turn,) = done(timelines, "resp_1", 2.0)
    assert turn.first_text == 1.3
    assert turn.first_audio is None and turn.voice_to_voice is None
    assert not turn.spoken


def test_a_lost_connection_reports_the_turns_as_far_as_they_got() -> None:
    timelines = TurnTimelines()
    timelines.user_started(0.0)
    timelines.user_stopped(1.0)
    timelines.response_created("resp_1", 1.2)
    (turn,) = timelines.flush()
    assert turn.reply_done is None and turn.cancelled
    assert timelines.flush() == []
    assert done(timelines, "resp_1", 2.0) == []


# -- through the session -----------------------------------------------------------------------


def ended(actions: list) -> list[TurnTimeline]:
    return [a.timeline for a in actions if isinstance(a, TurnEnded)]


def test_the_session_reports_a_server_vad_turn_with_its_clock_readings() -> None:
    kit = Kit()
    kit.connect()
    kit.now = 1.0
    assert (
        ended(kit.event("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0)) == []
    )
    kit.now = 2.0
    kit.event("input_audio_buffer.speech_stopped", item_id="u1", audio_end_ms=1000)
    kit.now = 2.25
    kit.event("input_audio_buffer.committed", item_id="u1", previous_item_id=None)
    kit.now = 2.3
    kit.start_response("resp_1")
    kit.now = 2.75
    kit.audio("resp_1", "a1", 200)
    kit.session.timeline.audio_pushed(2.76)
    kit.now = 3.0
    kit.audio("resp_1", "a1", 200)
    kit.now = 3.5
    output = [{"id": "a1", "type": "message", "role": "assistant", "content": []}]
    (turn,) = ended(kit.finish_response("resp_1", output=output))
    assert turn.user_item_ids == ("u1",)
    assert turn.reply_item_ids == ("a1",)
    assert turn.first_audio_received == 2.75
    assert turn.stop_to_commit == pytest.approx(0.25)
    assert turn.voice_to_voice == pytest.approx(0.76)
    assert turn.first_audio_to_done == pytest.approx(0.74)


def test_the_session_times_a_tool_call_from_its_arguments_to_its_result() -> None:
    kit = Kit()
    kit.connect()
    kit.now = 1.0
    kit.start_response("resp_1")
    kit.now = 1.5
    kit.function_call("resp_1", "call_1", name="get_weather")
    call = {"id": "item_call_1", "type": "function_call", "call_id": "call_1", "name": "x"}
    kit.now = 1.6
    assert ended(kit.finish_response("resp_1", output=[call])) == []
    actions = kit.session.function_result("call_1", '{"ok": true}', now=2.1)
    assert ended(actions) == []
    kit.now = 2.2
    kit.start_response("resp_2")
    kit.now = 2.4
    (turn,) = ended(kit.finish_response("resp_2"))
    assert turn.response_ids == ("resp_1", "resp_2")
    assert turn.tool_calls == (ToolCallTiming("get_weather", "call_1", 1.5, 2.1),)


def test_the_session_reports_the_heard_audio_of_a_barge_in() -> None:
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    kit.audio("resp_1", "a1", 2000)
    kit.session.bot_started_speaking(0.0)
    kit.now = 0.8
    actions = kit.event("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0)
    assert ended(actions) == []
    kit.now = 0.9
    (turn,) = ended(kit.event("response.done", response=response("resp_1", "cancelled")))
    assert turn.interruption == TurnInterruption(0.8, 800)
    assert turn.cancelled


def test_manual_turns_time_the_pipeline_turn_frames_and_playback() -> None:
    session = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    kit = Kit(session)
    kit.connect()
    assert kit.session.user_started_speaking(1.0) == []
    kit.session.user_stopped_speaking(2.0)
    kit.now = 2.1
    kit.event("input_audio_buffer.committed", item_id="u1", previous_item_id=None)
    kit.now = 2.2
    kit.start_response("resp_1")
    kit.now = 2.6
    kit.audio("resp_1", "a1", 500)
    kit.session.bot_started_speaking(2.6)
    kit.now = 2.7
    # The transport still plays the reply: the turn waits for it.
    assert ended(kit.finish_response("resp_1")) == []
    (turn,) = ended(kit.session.bot_stopped_speaking(3.1))
    assert turn.user_speech_started == 1.0
    assert turn.stop_to_commit == pytest.approx(0.1)
    assert turn.voice_to_voice == pytest.approx(0.6)
    assert turn.playback_stopped == 3.1


def test_local_turn_frames_do_not_time_a_server_vad_turn() -> None:
    kit = Kit()
    kit.connect()
    kit.session.user_started_speaking(1.0)
    kit.session.user_stopped_speaking(2.0)
    kit.start_response("resp_1")
    (turn,) = ended(kit.finish_response("resp_1"))
    assert not turn.spoken


def test_the_pipelines_late_echo_of_a_server_vad_barge_in_cuts_no_reply() -> None:
    # The InterruptionFrame that follows speech_started can come after the next reply
    # began (a busy pipeline); only the server's event times barge-ins.
    kit = Kit()
    kit.connect()
    kit.event("input_audio_buffer.speech_started", item_id="u1", audio_start_ms=0)
    kit.event("input_audio_buffer.speech_stopped", item_id="u1", audio_end_ms=500)
    kit.start_response("resp_1")
    kit.audio("resp_1", "a1", 100)
    assert ended(kit.session.interruption(kit.now)) == []
    (turn,) = ended(kit.finish_response("resp_1"))
    assert turn.interruption is None and turn.spoken


def test_a_dropped_connection_reports_the_cut_turn_and_a_closed_session_does_not() -> None:
    kit = Kit(reconnect=ReconnectOptions(jitter=0.0, max_session_duration=None))
    kit.connect()
    kit.start_response("resp_1")
    kit.audio("resp_1", "a1", 100)
    _, actions = kit.session.connection_ended(ConnectionEnd("dropped"), 1.0)
    (turn,) = ended(actions)
    assert turn.response_ids == ("resp_1",) and turn.cancelled and turn.reply_done is None

    closing = Kit()
    closing.connect()
    closing.start_response("resp_1")
    assert ended(closing.session.close(push_frames=True)) == []
