"""Whole conversations between the client core and the simulator's server logic.

Each test joins a :class:`~pipecat_realtime_openai.core.session.RealtimeSession` and a
:class:`~pipecat_realtime_openai.testing.session_state.RealtimeSessionState` in memory
(see :mod:`tests.core.pair`): no socket, no event loop, a fake clock.
"""

from __future__ import annotations

import math

import pytest

from pipecat_realtime_openai.core.actions import Notify, UserTranscript
from pipecat_realtime_openai.core.context_sync import ContextMessage
from pipecat_realtime_openai.core.reconnect import Retry
from pipecat_realtime_openai.protocol.official import official_client_event_error
from pipecat_realtime_openai.testing import (
    FunctionCall,
    Reply,
    ScriptedResponder,
    TranscriptQueue,
)
from tests.core.pair import ServerLink, SessionPair, silence, tone

HELLO = "Hello there, nice to meet you."
LONG = "This is a rather long reply that goes on and on for quite a while, really."
TRANSCRIBED = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}


@pytest.fixture(scope="module", autouse=True)
def _official_schemas() -> None:
    """Load the ``openai`` types the simulator checks client events against, once.

    The first check imports the ``openai`` package (about a second); paying it here
    keeps that out of the first test's time.
    """
    assert official_client_event_error({"type": "input_audio_buffer.clear"}) is None


def assistant(text: str) -> ContextMessage:
    return ContextMessage(role="assistant", text=text)


def item_keys(link: ServerLink) -> list[tuple[str, str, str | None, str | None]]:
    """The server's items in order: id, type, role and call id."""
    return [
        (item["id"], item["type"], item.get("role"), item.get("call_id"))
        for item in link.state.store.items
    ]


def assert_frames_balanced(pair: SessionPair, responses: int) -> None:
    assert pair.count("ResponseStarted") == responses
    assert pair.count("ResponseEnded") == responses
    assert pair.count("BotSpeechStarted") == pair.count("BotSpeechStopped")


# -- (a) a text turn ------------------------------------------------------------------------


def test_text_turn_is_answered_once_with_balanced_frames_and_all_its_audio() -> None:
    pair = SessionPair(responder=ScriptedResponder([Reply(text=HELLO)]))
    assert pair.client.phase.configured

    pair.context("Hi")

    assert len(pair.sent("response.create")) == 1
    assert pair.count("ResponseStarted") == pair.count("ResponseEnded") == 1
    assert pair.count("BotSpeechStarted") == pair.count("BotSpeechStopped") == 1
    names = pair.names
    assert (
        names.index("ResponseStarted")
        < names.index("BotSpeechStarted")
        < names.index("BotSpeechStopped")
        < names.index("ResponseEnded")
    )
    [(item_id, generated)] = pair.server_audio.items()
    assert len(generated) > 0
    assert bytes(pair.audio) == bytes(generated)
    assert pair.audio_wire_bytes == {item_id: len(generated)}
    assert "".join(pair.transcripts) == HELLO
    assert [(role, kind) for _, kind, role, _ in item_keys(pair.link)] == [
        ("user", "message"),
        ("assistant", "message"),
    ]
    assert pair.link.errors() == [] and pair.reported == []

    # The assistant aggregator writes the reply into the context (upstream): the server
    # holds it already, so nothing is sent and nobody answers again.
    before = len(pair.link.client_events)
    pair.play_out()
    pair.context("Hi", assistant(HELLO), downstream=False)
    assert pair.link.client_events[before:] == []
    assert pair.count("ResponseStarted") == 1


# -- (b) a tool round -------------------------------------------------------------------------

CALLS = [FunctionCall("weather", {"city": "Paris"}), FunctionCall("clock", {"tz": "CET"})]


@pytest.mark.parametrize("answer_early", [False, True], ids=["after-done", "during-response"])
def test_two_parallel_calls_are_answered_by_exactly_one_response(answer_early: bool) -> None:
    responder = ScriptedResponder([Reply(function_calls=CALLS), Reply(text="Sunny, noon.")])
    pair = SessionPair(responder=responder)
    pair.context("Weather and time in Paris?", pump=not answer_early)
    if answer_early:
        # Results come back before the response that made the calls is done.
        pair.pump_until(lambda: len(pair.calls) == 1)
        pair.function_result(pair.calls[0].call_id, "sunny", pump=False)
        pair.pump_until(lambda: len(pair.calls) == 2)
        assert not pair.received("response.done")
        pair.function_result(pair.calls[1].call_id, "noon", pump=False)
        pair.pump()
    else:
        assert [(c.name, c.arguments) for c in pair.calls] == [
            ("weather", {"city": "Paris"}),
            ("clock", {"tz": "CET"}),
        ]
        assert len(pair.sent("response.create")) == 1
        pair.function_result(pair.calls[0].call_id, "sunny")
        assert len(pair.sent("response.create")) == 1  # the round is not complete yet
        pair.function_result(pair.calls[1].call_id, "noon")

    assert len(pair.calls) == 2
    assert len(pair.sent("response.create")) == 2
    assert len(pair.received("response.created")) == 2
    created = [e["item"] for e in pair.sent("conversation.item.create")]
    outputs = {i["call_id"]: i["output"] for i in created if i["type"] == "function_call_output"}
    assert outputs == {pair.calls[0].call_id: "sunny", pair.calls[1].call_id: "noon"}
    assert "".join(pair.transcripts) == "Sunny, noon."
    assert_frames_balanced(pair, responses=2)
    assert pair.link.errors() == []


# -- (c) a spoken turn with server VAD ----------------------------------------------------------


def test_spoken_turn_is_answered_once_by_the_server() -> None:
    transcripts = TranscriptQueue()
    transcripts.put("What time is it?")
    pair = SessionPair(
        TRANSCRIBED,
        responder=ScriptedResponder([Reply(text="It is noon.")]),
        transcripts=transcripts,
    )
    assert pair.server.vad is not None  # server VAD is on

    pair.speak(silence(100) + tone(500) + silence(500))
    pair.pump()
    pair.play_out()

    assert pair.sent("response.create") == []
    assert len(pair.received("response.created")) == 1
    assert pair.count("UserSpeechStarted") == pair.count("UserSpeechStopped") == 1
    finals = [a.text for a in pair.actions if isinstance(a, UserTranscript) and a.final]
    assert finals == ["What time is it?"]
    assert "".join(pair.transcripts) == "It is noon."
    assert_frames_balanced(pair, responses=1)
    user_id = pair.server.store.items[0]["id"]
    assert pair.server.store.input_audio_ms[user_id] >= 500  # the whole tone got there
    assert [e["item_id"] for e in pair.received("input_audio_buffer.committed")] == [user_id]

    # The user aggregator then pushes the transcript downstream: the server holds it
    # and already answered it, so it is neither sent nor answered again.
    before = len(pair.link.client_events)
    pair.context("What time is it?")
    assert pair.link.client_events[before:] == []
    pair.context("What time is it?", assistant("It is noon."), downstream=False)
    assert pair.link.client_events[before:] == []
    assert len(pair.received("response.created")) == 1
    assert pair.link.errors() == []


# -- (d) barge-in ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listen_s", "streaming"),
    [(0.05, True), (0.12, True), (0.25, True), (1.0, False)],
    ids=["50ms-streaming", "120ms-streaming", "250ms-streaming", "1s-after-done"],
)
def test_barge_in_truncates_within_the_audio_received(listen_s: float, streaming: bool) -> None:
    pair = SessionPair(responder=ScriptedResponder([Reply(text=LONG), Reply(text="Okay.")]))
    pair.context("Tell me something.", pump=not streaming)
    if streaming:
        pair.pump_until(lambda: sum(pair.audio_wire_bytes.values()) >= 48 * 300)
    [item_id] = pair.audio_wire_bytes
    pair.bot_started_speaking()
    started = pair.now
    pair.advance(listen_s)
    mark = pair.mark()

    # The user talks over the reply while it keeps streaming.
    pair.speak(tone(300) + silence(400), response_steps_per_frame=1 if streaming else 0)
    pair.pump()

    [truncate] = pair.truncates
    assert truncate.item_id == item_id
    assert 0 < truncate.audio_end_ms <= truncate.received_ms
    heard_ms = (truncate.at - started) * 1000
    assert truncate.audio_end_ms == min(math.floor(heard_ms + 1e-6), int(truncate.received_ms))
    # The server accepted it: no error, and the item now holds just the heard audio.
    assert pair.link.errors() == []
    [truncated] = pair.received("conversation.item.truncated")
    assert (truncated["item_id"], truncated["audio_end_ms"]) == (item_id, truncate.audio_end_ms)
    assert pair.server.store.audio_ms[(item_id, 0)] == truncate.audio_end_ms
    # Speech stopped at the barge-in (or already at the end of a finished reply); late
    # audio of the cut reply was not played.
    after = pair.names_since(mark)
    if streaming:
        assert after.index("BotSpeechStopped") < after.index("UserSpeechStarted")
    else:
        assert after.index("UserSpeechStarted") < after.index("BotSpeechStopped")
        assert pair.count("BotSpeechStopped") == 2  # the first reply's, then the answer's
    assert pair.audio_wire_bytes[item_id] == truncate.received_ms * 48
    # The user's turn is answered once, by the server.
    assert len(pair.sent("response.create")) == 1
    assert len(pair.received("response.created")) == 2
    assert_frames_balanced(pair, responses=2)


# -- (e) a dropped connection ---------------------------------------------------------------------


def test_reconnect_restores_the_same_items_in_order_and_answers_nothing_twice() -> None:
    responder = ScriptedResponder(
        [
            Reply(text=HELLO),
            Reply(text="Let me look.", function_calls=[FunctionCall("lookup", {"q": "x"})]),
            Reply(text="Found it."),
            Reply(text="Anything else?"),
        ]
    )
    pair = SessionPair(responder=responder)
    pair.context("Hi")
    pair.play_out()
    pair.speak(silence(100) + tone(500) + silence(500))  # no transcription: audio only
    pair.pump()
    pair.play_out()
    [call] = pair.calls
    pair.function_result(call.call_id, "the answer")
    pair.play_out()
    old = pair.link
    before = item_keys(old)
    assert [kind for _, kind, _, _ in before] == [
        "message",
        "message",
        "message",
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert len(old.client_events) > 0 and old.errors() == []
    responses_before = pair.count("ResponseStarted")

    step = pair.reconnect()

    assert isinstance(step, Retry)
    new = pair.link
    assert new is not old and new.state is not old.state
    assert new.state.store is not old.state.store
    assert item_keys(new) == before
    user_audio_id = before[2][0]
    assert new.state.store.input_audio[user_audio_id] == old.state.store.input_audio[user_audio_id]
    # Nothing was owed: no answer on the new connection.
    assert pair.sent("response.create", link=new) == []
    assert pair.received("response.created", link=new) == []
    assert pair.count("ResponseStarted") == responses_before
    assert new.errors() == []
    assert pair.client.reconnects == 1
    handlers = [a.handler for a in pair.actions if isinstance(a, Notify)]
    assert handlers.count("on_reconnecting") == handlers.count("on_reconnected") == 1

    # The conversation goes on: a new message is answered exactly once.
    history: list[ContextMessage | str] = [
        "Hi",
        assistant(HELLO),
        assistant("Let me look."),
        assistant("Found it."),
    ]
    pair.context(*history, "And now?")
    assert len(pair.sent("conversation.item.create", link=new)) == len(before) + 1
    assert len(pair.sent("response.create", link=new)) == 1
    assert len(pair.received("response.created", link=new)) == 1
    assert new.errors() == []


def test_reply_cut_by_a_drop_is_asked_for_once_on_the_new_connection() -> None:
    pair = SessionPair(responder=ScriptedResponder([Reply(text=LONG), Reply(text="Again.")]))
    pair.context("Hi", pump=False)
    pair.pump_until(lambda: sum(pair.audio_wire_bytes.values()) > 0)
    old = pair.link
    user_id, half_said = old.item_ids()

    pair.reconnect()

    new = pair.link
    assert len(pair.sent("response.create", link=new)) == 1
    assert len(pair.received("response.created", link=new)) == 1
    assert new.item_ids()[0] == user_id
    assert half_said not in new.item_ids()
    assert len(new.item_ids()) == 2
    assert_frames_balanced(pair, responses=2)
    assert new.errors() == []


def test_calls_made_before_a_drop_are_answered_once_after_it() -> None:
    responder = ScriptedResponder([Reply(function_calls=CALLS), Reply(text="Done.")])
    pair = SessionPair(responder=responder)
    pair.context("Go")
    first, second = pair.calls
    before = item_keys(pair.link)

    pair.reconnect()
    new = pair.link
    assert item_keys(new) == before
    pair.function_result(first.call_id, "A")
    pair.function_result(second.call_id, "B")

    assert [kind for _, kind, _, _ in item_keys(new)] == [
        "message",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "message",
    ]
    assert len(pair.sent("response.create", link=new)) == 1
    assert len(pair.received("response.created", link=new)) == 1
    assert new.errors() == []


# -- barge-in during a tool call ------------------------------------------------------------


def test_barge_in_during_function_arguments_answers_the_user_turn_once() -> None:
    long_args = {"query": "a long query with many words in it"}
    reply = Reply(text="Let me check.", function_calls=[FunctionCall("search", long_args)])
    pair = SessionPair(responder=ScriptedResponder([reply]))
    pair.context("Hi", pump=False)
    pair.pump_until(lambda: bool(pair.received("response.function_call_arguments.delta")))
    pair.bot_started_speaking()
    pair.advance(0.3)
    requests = len(pair.sent("response.create"))
    responses = len(pair.received("response.created"))

    pair.speak(tone(300) + silence(400))
    pair.pump()

    assert pair.received("response.done")[0]["response"]["status"] == "cancelled"
    assert pair.calls == []  # the cut-off call never ran
    # The user's turn is answered once, by the server, and the client asks for nothing.
    assert len(pair.sent("response.create")) == requests
    assert len(pair.received("response.created")) == responses + 1
