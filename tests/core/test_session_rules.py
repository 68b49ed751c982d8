"""The core's rules as inputs -> actions: no socket, no Pipecat, no event loop, a fake clock."""

from __future__ import annotations

import json

import pytest

from pipecat_realtime_openai.core.actions import (
    BotSpeechStopped,
    CloseConnection,
    ItemRetrieved,
    Metrics,
    MetricsOp,
    Notify,
    RepairContext,
    ReportError,
    ResponseEnded,
    ResponseStarted,
    RetrievalFailed,
    RunFunctionCall,
    SendInputAudio,
)
from pipecat_realtime_openai.core.context_sync import ContextMessage, ContextSnapshot
from pipecat_realtime_openai.core.items import text_message_item
from pipecat_realtime_openai.core.phase import Phase, PhaseError, PhaseTracker
from pipecat_realtime_openai.core.reconnect import (
    ConnectionEnd,
    DisconnectReason,
    ReconnectOptions,
    Retry,
    Stop,
)
from pipecat_realtime_openai.protocol.fast import TranscriptDelta
from tests.core.session_kit import Kit, kinds, logs, response, sent

__all__ = ["logs"]


DROP = ConnectionEnd("the connection closed unexpectedly")
FAST = ReconnectOptions(jitter=0.0, max_session_duration=None)


def user_item(item_id: str, text: str) -> dict:
    return {
        "id": item_id,
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


# -- phase -------------------------------------------------------------------------------


def test_a_session_goes_through_the_phases_in_order():
    kit = Kit(reconnect=FAST)
    assert kit.session.phase is Phase.CLOSED
    kit.session.start()
    assert kit.session.phase is Phase.CONNECTING
    kit.session.connection_opened(kit.now)
    assert kit.session.phase is Phase.CONFIGURING
    created = kit.event("session.created", session={"type": "realtime"})
    assert [a.span for a in created] == ["llm_setup"]
    assert kit.session.phase is Phase.CONFIGURING, "not ready before session.updated"
    kit.event("session.updated", session={"type": "realtime"})
    assert kit.session.phase is Phase.READY
    kit.session.close(push_frames=False)
    assert kit.session.phase is Phase.CLOSED


def test_illegal_transitions_are_refused():
    tracker = PhaseTracker("t")
    with pytest.raises(PhaseError):
        tracker.move(Phase.READY, "skipping the connection")
    tracker.move(Phase.CONNECTING, "start")
    tracker.move(Phase.CONNECTING, "no-op")
    assert tracker.phase is Phase.CONNECTING


def test_user_audio_is_held_until_ready_then_released_in_order():
    kit = Kit()
    kit.session.start()
    kit.session.connection_opened(0.0)
    frame = bytes(24000 * 2 // 10)  # 100 ms of 24 kHz audio
    assert kit.session.user_audio(frame, 24000, 1) == ()
    assert kit.session.input_audio.held_ms > 0
    kit.event("session.created", session={"type": "realtime"})
    released = kit.event("session.updated", session={"type": "realtime"})
    assert SendInputAudio() in released
    texts = kit.session.take_input_audio()
    assert texts and {json.loads(t)["type"] for t in texts} == {"input_audio_buffer.append"}
    assert kit.session.user_audio(frame, 24000, 1), "live once ready"


# -- responses ---------------------------------------------------------------------------


def test_first_context_seeds_then_asks_once():
    kit = Kit()
    kit.connect()
    seed = (text_message_item("Hello", "user"),)
    snapshot = ContextSnapshot(messages=(ContextMessage("user", "Hello"),), seed=seed)
    actions = kit.session.context_changed(snapshot, downstream=True)
    assert kinds(actions) == [
        "ConversationSeeded",
        "Send:conversation.item.create",
        "ResponseStarted",
        "Metrics",
        "Send:response.create",
    ]
    again = kit.session.context_changed(snapshot, downstream=True)
    assert not sent(again, "response.create"), "one response runs; the next is owed"


def test_a_request_made_before_the_session_is_ready_waits_for_it():
    kit = Kit()
    kit.session.start()
    kit.session.connection_opened(0.0)
    early = kit.session.messages_appended([ContextMessage("user", "hi")], run_llm=True)
    assert early == []
    kit.event("session.created", session={"type": "realtime"})
    ready = kit.event("session.updated", session={"type": "realtime"})
    assert kinds(ready)[:3] == ["Send:conversation.item.create", "ResponseStarted", "Metrics"]
    assert len(sent(ready, "response.create")) == 1


def test_a_tool_round_is_answered_once_after_its_last_result():
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    calls = kit.function_call("resp_1", "call_a") + kit.function_call("resp_1", "call_b")
    assert [a.call_id for a in calls if isinstance(a, RunFunctionCall)] == ["call_a", "call_b"]
    kit.finish_response("resp_1")
    first = kit.session.function_result("call_a", '{"ok": 1}')
    assert kinds(first) == ["Send:conversation.item.create"]
    last = kit.session.function_result("call_b", '{"ok": 2}')
    assert len(sent(last, "response.create")) == 1


def test_a_tool_round_whose_results_say_run_llm_false_stays_quiet():
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    kit.function_call("resp_1", "call_a")
    kit.finish_response("resp_1")
    quiet = kit.session.function_result("call_a", "done", run_llm=False)
    assert sent(quiet, "conversation.item.create") and not sent(quiet, "response.create")


def test_a_request_during_a_response_is_owed_and_a_barge_in_drops_it():
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    assert kit.session.messages_appended([ContextMessage("user", "also")], run_llm=True)
    owed = kit.finish_response("resp_1")
    assert len(sent(owed, "response.create")) == 1, "the owed request goes out at the end"

    kit.start_response("resp_2")
    kit.session.messages_appended([ContextMessage("user", "and")], run_llm=True)
    kit.event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="item_u")
    dropped = kit.finish_response("resp_2")
    assert not sent(dropped, "response.create"), "the user's turn brings its own answer"


def test_a_refused_request_is_owed_again_not_lost():
    kit = Kit()
    kit.connect()
    asked = kit.session.messages_appended([], run_llm=True)
    request_id = sent(asked, "response.create")[0].event_id
    refused = kit.error("conversation_already_has_active_response", request_id)
    assert ResponseEnded() in refused and not [a for a in refused if isinstance(a, ReportError)]
    kit.start_response("resp_other")
    later = kit.finish_response("resp_other")
    assert len(sent(later, "response.create")) == 1


# -- barge-in and truncation ---------------------------------------------------------------


def test_barge_in_truncates_at_what_was_heard_and_drops_late_audio():
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    out = kit.audio("resp_1", "item_a", 1000)
    assert out is not None and out.opens_speech and len(out.pcm) == 48_000
    assert not kit.audio("resp_1", "item_a", 200).opens_speech
    kit.now = 10.0
    kit.session.bot_started_speaking(kit.now)
    kit.now = 10.3
    barge = kit.event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="item_u")
    truncate = sent(barge, "conversation.item.truncate")
    assert [(t.item_id, t.audio_end_ms) for t in truncate] == [("item_a", 300)]
    assert BotSpeechStopped() in barge
    assert kit.audio("resp_1", "item_a", 100) is None, "late audio of the interrupted reply"


def test_audio_never_heard_is_deleted_and_a_played_out_reply_is_left_alone():
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    kit.audio("resp_1", "item_a", 200)
    kit.audio("resp_1", "item_b", 200)
    kit.session.bot_started_speaking(0.0)
    barge = kit.session.interruption(0.1)
    assert [(e.type, e.item_id) for e in sent(barge)] == [
        ("conversation.item.truncate", "item_a"),
        ("conversation.item.delete", "item_b"),
    ]
    assert Metrics(MetricsOp.STOP_ALL) in barge

    kit.finish_response("resp_1")
    kit.start_response("resp_2")
    kit.audio("resp_2", "item_c", 100)
    kit.finish_response("resp_2")
    kit.session.bot_started_speaking(1.0)
    kit.session.bot_stopped_speaking(1.2)
    assert sent(kit.session.interruption(2.0)) == []


def test_audio_still_streaming_when_the_network_fell_behind_is_truncated_at_what_arrived():
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    kit.audio("resp_1", "item_a", 200)
    kit.session.bot_started_speaking(0.0)
    # 500 ms of wall time, 200 ms of audio arrived: the user heard all 200 of a reply
    # the server kept generating.
    barge = kit.session.interruption(0.5)
    [truncate] = sent(barge)
    assert (truncate.type, truncate.item_id, truncate.audio_end_ms) == (
        "conversation.item.truncate",
        "item_a",
        200,
    )


def test_manual_turns_commit_once_and_an_interruption_clears_and_cancels():
    kit = Kit({"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    kit.connect()
    assert kit.session.manual_turns
    kit.session.user_started_speaking()
    stop = kit.session.user_stopped_speaking()
    assert kinds(stop) == [
        "SendInputAudio",
        "Metrics",
        "ResponseStarted",
        "Send:response.create",
    ]
    texts = [json.loads(t)["type"] for t in kit.session.take_input_audio()]
    assert texts[-1] == "input_audio_buffer.commit"
    interrupted = kit.session.interruption(0.0)
    assert sent(interrupted, "response.cancel")
    assert json.loads(kit.session.take_input_audio()[0])["type"] == "input_audio_buffer.clear"


# -- errors --------------------------------------------------------------------------------


def test_a_fatal_error_is_reported_once_and_ends_the_session():
    kit = Kit(reconnect=FAST)
    kit.connect()
    first = kit.error("invalid_api_key")
    reports = [a for a in first if isinstance(a, ReportError)]
    assert [(r.fatal, r.category) for r in reports] == [(True, "authentication")]
    assert any(isinstance(a, CloseConnection) for a in first)
    second = kit.error("insufficient_quota")
    assert not [a for a in second if isinstance(a, ReportError)], "one fatal report"
    step, _ = kit.session.connection_ended(DROP, kit.now)
    assert step == Stop()
    assert kit.session.phase is Phase.CLOSED


@pytest.mark.parametrize(
    ("code", "reported", "category"),
    [
        ("rate_limit_exceeded", True, "rate_limit"),
        ("server_error", True, "server"),
        ("some_new_code", True, "unknown"),
        ("response_cancel_not_active", False, None),
        ("item_truncate_invalid_item_id", False, None),
    ],
)
def test_recoverable_errors_keep_the_session(code, reported, category):
    kit = Kit()
    kit.connect()
    actions = kit.error(code)
    reports = [a for a in actions if isinstance(a, ReportError)]
    assert [(r.fatal, r.category) for r in reports] == ([(False, category)] if reported else [])
    assert kit.session.phase is Phase.READY


def test_session_expired_recycles_the_connection_and_holds_everything():
    kit = Kit(reconnect=FAST)
    kit.connect()
    actions = kit.error("session_expired")
    assert CloseConnection("session_expired") in actions
    assert kit.session.phase is Phase.RETIRING
    assert kit.session.user_audio(bytes(4800), 24000, 1) == ()
    assert kit.session.messages_appended([ContextMessage("user", "x")], run_llm=True) == []
    step, _ = kit.session.connection_ended(DROP, kit.now)
    assert step == Retry(0.0, 1)


def test_an_error_refusing_the_configuration_does_not_hold_the_session_forever():
    kit = Kit()
    kit.session.start()
    kit.session.connection_opened(0.0)
    update = sent(kit.event("session.created", session={"type": "realtime"}))[0]
    kit.error("invalid_value", update.event_id)
    assert kit.session.phase is Phase.READY


def test_retrievals_share_one_request_and_fail_when_the_connection_goes():
    kit = Kit(reconnect=FAST)
    assert kit.session.retrieve("item_x") == [
        RetrievalFailed("item_x", "the Realtime session is not connected")
    ]
    kit.connect()
    assert len(sent(kit.session.retrieve("item_1"), "conversation.item.retrieve")) == 1
    assert kit.session.retrieve("item_1") == []
    item = user_item("item_1", "hi")
    got = kit.event("conversation.item.retrieved", item=item)
    assert [a.item_id for a in got if isinstance(a, ItemRetrieved)] == ["item_1"]
    sent_again = sent(kit.session.retrieve("item_2"))[0]
    missing = kit.error("item_retrieve_invalid_item_id", sent_again.event_id)
    assert [type(a) for a in missing] == [RetrievalFailed]
    kit.session.retrieve("item_3")
    _, lost = kit.session.connection_ended(DROP, kit.now)
    assert RetrievalFailed("item_3", "the Realtime connection closed") in lost


# -- reconnect and restore -----------------------------------------------------------------


def test_a_drop_restores_the_conversation_in_order_with_its_ids():
    kit = Kit(reconnect=FAST)
    kit.connect()
    for item_id, text in (("item_1", "first"), ("item_2", "second")):
        kit.event("conversation.item.added", item=user_item(item_id, text))
        kit.event("conversation.item.done", item=user_item(item_id, text))
    kit.now = 5.0
    step, actions = kit.session.connection_ended(DROP, kit.now)
    assert step == Retry(0.0, 1)
    notes = [a for a in actions if isinstance(a, Notify)]
    assert [n.handler for n in notes] == ["on_reconnecting"]
    assert kit.session.phase is Phase.CONNECTING

    kit.now = 5.5
    kit.session.connection_opened(kit.now)
    kit.event("session.created", session={"type": "realtime"})
    restored = kit.event("session.updated", session={"type": "realtime"})
    creates = sent(restored, "conversation.item.create")
    assert [e.item.id for e in creates] == ["item_1", "item_2"]
    done = [a for a in restored if isinstance(a, Notify) and a.handler == "on_reconnected"]
    assert done[0].args[0].downtime == pytest.approx(0.5)
    assert kit.session.reconnects == 1
    echo = kit.event("conversation.item.added", item=user_item("item_1", "first"))
    assert echo == [], "the echo of a restored item is not news for the application"


def test_a_reply_cut_by_a_drop_is_closed_and_asked_for_again_once():
    kit = Kit(reconnect=FAST)
    kit.connect()
    kit.session.messages_appended([ContextMessage("user", "tell me")], run_llm=True)
    kit.start_response("resp_1")
    kit.audio("resp_1", "item_a", 100)
    _, lost = kit.session.connection_ended(DROP, kit.now)
    assert BotSpeechStopped() in lost and ResponseEnded() in lost
    kit.session.connection_opened(kit.now)
    kit.event("session.created", session={"type": "realtime"})
    resumed = kit.event("session.updated", session={"type": "realtime"})
    assert len(sent(resumed, "response.create")) == 1


def test_no_second_answer_after_a_drop_when_the_user_had_barged_in():
    kit = Kit(reconnect=FAST)
    kit.connect()
    kit.session.messages_appended([], run_llm=True)
    kit.start_response("resp_1")
    kit.event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="item_u")
    kit.session.connection_ended(DROP, kit.now)
    kit.session.connection_opened(kit.now)
    kit.event("session.created", session={"type": "realtime"})
    resumed = kit.event("session.updated", session={"type": "realtime"})
    assert not sent(resumed, "response.create")


def test_refused_handshakes_and_a_spent_budget():
    kit = Kit(reconnect=ReconnectOptions(max_retries=1, jitter=0.0, max_session_duration=None))
    kit.connect()
    step, _ = kit.session.connection_ended(DROP, kit.now)
    assert step == Retry(0.0, 1)
    step, actions = kit.session.connection_ended(ConnectionEnd("could not connect"), kit.now)
    assert step == Stop("gave_up")
    reports = [a for a in actions if isinstance(a, ReportError)]
    assert [(r.fatal, r.category) for r in reports] == [(True, "connectivity")]
    assert kit.session.phase is Phase.CLOSED

    refused = Kit(reconnect=FAST)
    refused.session.start()
    end = ConnectionEnd("refused", DisconnectReason(http_status=401))
    step, actions = refused.session.connection_ended(end, 0.0)
    assert step == Stop("fatal")
    assert [(a.fatal, a.category) for a in actions if isinstance(a, ReportError)] == [
        (True, "authentication")
    ]


def test_closing_ends_open_frames_and_the_loop():
    kit = Kit()
    kit.connect()
    kit.session.messages_appended([], run_llm=True)
    kit.start_response("resp_1")
    kit.audio("resp_1", "item_a", 100)
    closing = kit.session.close(push_frames=True)
    assert closing == [BotSpeechStopped(), ResponseEnded()]
    step, _ = kit.session.connection_ended(DROP, kit.now)
    assert step == Stop(), "a closed session never reconnects"


# -- rollover --------------------------------------------------------------------------------


def test_rollover_waits_for_a_quiet_moment_within_its_grace():
    kit = Kit(reconnect=ReconnectOptions(max_session_duration=10.0, rollover_grace=5.0))
    kit.connect()
    assert kit.session.rollover_wait(4.0) == pytest.approx(6.0)
    kit.session.messages_appended([], run_llm=True)  # a response runs
    assert kit.session.rollover_wait(11.0) == pytest.approx(0.1)
    assert kit.session.rollover_wait(15.0) is None, "the deadline wins over activity"
    kit.start_response("resp_1")
    kit.finish_response("resp_1")
    assert kit.session.rollover_wait(11.0) is None, "quiet: now"
    assert kit.session.retire("session rollover") == [CloseConnection("session rollover")]
    step, _ = kit.session.connection_ended(DROP, 11.0)
    assert step == Retry(0.0, 1)


def test_server_vad_opens_the_reply_frames_itself():
    kit = Kit()
    kit.connect()
    kit.event("input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="item_u")
    kit.event("input_audio_buffer.committed", item_id="item_u", previous_item_id=None)
    started = kit.event("response.created", response=response("resp_vad"))
    assert started == [ResponseStarted()]
    out = kit.audio("resp_vad", "item_a", 20)
    assert out is not None and out.opens_speech, "the speech frame comes from the hot path"


def test_a_function_call_of_a_reply_the_user_cut_off_neither_runs_nor_asks():
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    kit.event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="item_u")
    cut = kit.function_call("resp_1", "call_cut")
    assert not [a for a in cut if isinstance(a, RunFunctionCall)]
    assert not sent(cut), "no error output for arguments the cancel cut short"
    done = kit.event("response.done", response=response("resp_1", "cancelled"))
    assert not sent(done, "response.create"), "the user's turn brings the answer"


def test_a_late_interruption_does_not_cost_a_reply_that_completes_its_call():
    # An interruption for the turn that caused the reply can reach the service after
    # the reply started (audio held until the session was ready went out in a burst).
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    kit.session.interruption(kit.now)
    waiting = kit.function_call("resp_1", "call_ok")
    assert not [a for a in waiting if isinstance(a, RunFunctionCall)], "waits for response.done"
    done = kit.finish_response("resp_1")
    assert [a.call_id for a in done if isinstance(a, RunFunctionCall)] == ["call_ok"]
    answered = kit.session.function_result("call_ok", "sunny")
    assert len(sent(answered, "response.create")) == 1


# -- the context learns what really happened ---------------------------------------------


def spoken_turn_then_reply(kit: Kit, transcript: str, reply: str, heard_ms: int | None) -> None:
    """A spoken user turn answered by the server; the reply cut after ``heard_ms``."""
    user = {"id": "item_u1", "type": "message", "role": "user",
            "content": [{"type": "input_audio", "transcript": None}]}  # fmt: skip
    kit.event("conversation.item.added", item=user)
    kit.event("conversation.item.done", item=user)
    kit.event(
        "conversation.item.input_audio_transcription.completed",
        item_id="item_u1", content_index=0, transcript=transcript,
    )  # fmt: skip
    kit.start_response("resp_1")
    assistant = {"id": "item_a1", "type": "message", "role": "assistant",
                 "content": [{"type": "output_audio", "transcript": reply}]}  # fmt: skip
    kit.event("conversation.item.added", item=assistant)
    kit.session.transcript_out(TranscriptDelta("resp_1", "item_a1", 0, 0, reply), reply)
    kit.audio("resp_1", "item_a1", 1000)
    if heard_ms is not None:
        kit.session.bot_started_speaking(0.0)
        kit.session.interruption(heard_ms / 1000)
    kit.event("conversation.item.done", item=assistant)
    output = [{"id": "item_a1", "type": "message", "role": "assistant", "content": []}]
    kit.finish_response("resp_1", output=output)


def snapshot(*messages: ContextMessage) -> ContextSnapshot:
    return ContextSnapshot(messages=messages)


def test_a_reply_cut_off_is_kept_in_the_context_as_far_as_it_was_heard():
    kit = Kit()
    kit.connect()
    kit.session.context_changed(snapshot(ContextMessage("system", "Be brief.")), downstream=True)
    reply = "one two three four five six seven eight nine ten"
    spoken_turn_then_reply(kit, "Count to ten.", reply, heard_ms=500)
    written = snapshot(
        ContextMessage("system", "Be brief."),
        ContextMessage("user", "Count to ten."),
        ContextMessage("assistant", reply),
    )
    actions = kit.session.context_changed(written, downstream=False)
    repairs = [a for a in actions if isinstance(a, RepairContext)]
    assert [(e.kind, e.index, e.text) for e in repairs[0].edits] == [
        ("text", 2, "one two three four five")
    ]
    assert not sent(actions), "the server already holds both, cut where the user was"
    healed = snapshot(*written.messages[:2], ContextMessage("assistant", "one two three four five"))
    assert sent(kit.session.context_changed(healed, downstream=False)) == []


def test_a_reply_heard_not_at_all_leaves_the_context():
    kit = Kit()
    kit.connect()
    kit.session.context_changed(snapshot(ContextMessage("system", "Be brief.")), downstream=True)
    spoken_turn_then_reply(kit, "Hello?", "A reply nobody heard.", heard_ms=0)
    written = snapshot(
        ContextMessage("system", "Be brief."),
        ContextMessage("user", "Hello?"),
        ContextMessage("assistant", "A reply nobody heard."),
    )
    actions = kit.session.context_changed(written, downstream=False)
    edits = [e for a in actions if isinstance(a, RepairContext) for e in a.edits]
    assert [(e.kind, e.index) for e in edits] == [("remove", 2)]
    assert not sent(actions, "conversation.item.create"), "never sent back to the server"


def test_a_turn_transcribed_after_its_reply_moves_before_it():
    kit = Kit()
    kit.connect()
    kit.session.context_changed(snapshot(ContextMessage("system", "Be brief.")), downstream=True)
    spoken_turn_then_reply(kit, "What time is it?", "It is noon.", heard_ms=None)
    late = snapshot(
        ContextMessage("system", "Be brief."),
        ContextMessage("assistant", "It is noon."),
        ContextMessage("user", "What time is it?"),
    )
    actions = kit.session.context_changed(late, downstream=True)
    edits = [e for a in actions if isinstance(a, RepairContext) for e in a.edits]
    assert [(e.kind, e.index, e.to_index) for e in edits] == [("move", 2, 1)]
    assert not sent(actions), "both are on the server already: nothing to send, no reply"


def test_a_refused_change_is_logged_and_never_counted_as_held(logs):
    kit = Kit()
    kit.connect()
    first = snapshot(ContextMessage("system", "x"), ContextMessage("user", "one"))
    created = sent(kit.session.context_changed(first, downstream=False), "conversation.item.create")
    kit.error("invalid_value", created[0].event_id)
    assert any("refused to create item" in line for line in logs)
    assert kit.session.conversation.mirror.ids() == []
    # A later delete of that message has nothing left to delete on the server.
    later = kit.session.context_changed(snapshot(ContextMessage("system", "x")), downstream=False)
    assert not sent(later, "conversation.item.delete")


def test_a_change_the_server_never_answers_is_logged_as_lost(logs):
    kit = Kit()
    kit.connect()
    two = snapshot(ContextMessage("system", "x"), ContextMessage("user", "one"))
    kit.session.context_changed(two, downstream=False)
    kit.now = 1.0
    kit.event("rate_limits.updated", rate_limits=[])
    kit.now = 7.0
    kit.event("rate_limits.updated", rate_limits=[])
    assert any("no answer from the server to the create" in line for line in logs)


def test_manual_turns_keep_turn_audio_from_the_pipelines_speech_start():
    kit = Kit({"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    kit.connect()
    session = kit.session
    timeline = session._turn_audio.timeline  # what a restore could still slice
    silence = bytes(2 * 480)  # 20 ms at 24 kHz
    session.user_started_speaking()
    for _ in range(50):
        session.user_audio(silence, 24000, 1)
    session.user_stopped_speaking()
    kit.event("input_audio_buffer.committed", item_id="item_1", previous_item_id=None)
    for _ in range(500):  # 10 s with the user silent (the bot talking)
        session.user_audio(silence, 24000, 1)
    assert timeline.kept_bytes <= 48 * 6_000, "between turns only the tail is kept"
    session.user_started_speaking()
    for _ in range(500):
        session.user_audio(silence, 24000, 1)
    assert timeline.kept_bytes >= 48 * 10_000, "a turn the pipeline opened is kept whole"
