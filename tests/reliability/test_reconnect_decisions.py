"""The pure decisions behind reconnecting: planner, options, restore, owed answers."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipecat_realtime_openai.core.conversation import ConversationMirror
from pipecat_realtime_openai.core.reconnect import (
    ConnectionEnd,
    DisconnectReason,
    ReconnectOptions,
    ReconnectPlanner,
    Retry,
    Stop,
)
from pipecat_realtime_openai.core.responses import answer_owed_after_drop
from pipecat_realtime_openai.core.restore import restore_events
from pipecat_realtime_openai.protocol.official import official_client_event_error

DROP = ConnectionEnd("the connection closed unexpectedly")


def planner(**options) -> ReconnectPlanner:
    defaults = {"initial_delay": 0.1, "max_delay": 1.0, "jitter": 0.0}
    return ReconnectPlanner(ReconnectOptions(**{**defaults, **options}), random.Random(0))


def test_planner_retries_at_once_then_backs_off_then_gives_up():
    plan = planner(max_retries=4)
    steps = [plan.after(DROP) for _ in range(5)]
    assert steps[:4] == [Retry(0.0, 1), Retry(0.1, 2), Retry(0.2, 3), Retry(0.4, 4)]
    assert steps[4] == Stop("gave_up")


def test_planner_starts_over_once_restored():
    plan = planner()
    plan.after(DROP)
    plan.after(DROP)
    assert plan.attempt == 2
    plan.on_restored()
    assert plan.attempt == 0
    assert plan.after(DROP) == Retry(0.0, 1)


@pytest.mark.parametrize(
    ("end", "step"),
    [
        (ConnectionEnd("bad key", fatal_reported=True), Stop()),
        (ConnectionEnd("refused", DisconnectReason(http_status=401)), Stop("fatal")),
        (ConnectionEnd("refused", DisconnectReason(http_status=403)), Stop("fatal")),
        (ConnectionEnd("quota", DisconnectReason(error_code="insufficient_quota")), Stop("fatal")),
        (ConnectionEnd("busy", DisconnectReason(http_status=503)), Retry(0.0, 1)),
        (ConnectionEnd("expired", DisconnectReason(error_code="session_expired")), Retry(0.0, 1)),
    ],
)
def test_planner_never_retries_what_retrying_cannot_fix(end, step):
    assert planner().after(end) == step


def test_zero_retries_never_reconnects():
    assert planner(max_retries=0).after(DROP) == Stop("gave_up")


@given(
    initial=st.floats(0.0, 2.0),
    maximum=st.floats(0.0, 10.0),
    jitter=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_planner_delays_stay_within_the_maximum(initial, maximum, jitter, seed):
    options = ReconnectOptions(
        initial_delay=initial, max_delay=maximum, jitter=jitter, max_retries=12
    )
    plan = ReconnectPlanner(options, random.Random(seed))
    steps = [plan.after(DROP) for _ in range(13)]
    retries = [s for s in steps if isinstance(s, Retry)]
    assert [s.attempt for s in retries] == list(range(1, 13))
    assert all(0.0 <= s.delay <= maximum for s in retries)
    assert steps[-1] == Stop("gave_up")


@pytest.mark.parametrize(
    "options",
    [
        {"max_session_duration": 0},
        {"rollover_grace": -1},
        {"max_restored_items": -1},
        {"max_turn_audio_secs": -1.0},
        {"ping_interval": 0},
        {"ping_timeout": -1.0},
        {"initial_delay": -0.1},
        {"jitter": 2.0},
        {"max_retries": -1},
    ],
)
def test_options_reject_nonsense(options):
    with pytest.raises(ValueError):
        ReconnectOptions(**options)


def test_default_options_recycle_before_the_sixty_minute_limit():
    options = ReconnectOptions()
    assert options.max_session_duration is not None
    assert options.max_session_duration + options.rollover_grace < 60 * 60
    assert options.ping_interval is not None and options.ping_timeout is not None
    assert options.ping_interval + options.ping_timeout <= 15, "a dead peer is noticed in seconds"


@pytest.mark.parametrize(
    ("in_flight", "interrupted", "unanswered", "open_calls", "owed"),
    [
        (False, False, False, 0, False),  # idle: nothing to say
        (True, False, False, 0, True),  # cut mid-answer: ask again
        (True, True, False, 0, False),  # the user had barged in: their turn answers
        (True, True, True, 0, True),  # ... and their turn was committed, unanswered
        (False, False, True, 0, True),  # server VAD committed a turn, no reply yet
        (True, False, False, 1, False),  # a tool result will ask for the answer
        (False, False, True, 2, False),
    ],
)
def test_answer_owed_after_a_drop(in_flight, interrupted, unanswered, open_calls, owed):
    assert (
        answer_owed_after_drop(
            response_in_flight=in_flight,
            response_interrupted=interrupted,
            user_turn_unanswered=unanswered,
            open_calls=open_calls,
        )
        is owed
    )


def user_text(item_id: str | None, text: str) -> dict:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    if item_id:
        item["id"] = item_id
    return item


def test_restore_events_keep_order_and_ids_and_are_valid_client_events():
    mirror = ConversationMirror()
    for item_id, text in [("u1", "first"), ("u2", "second")]:
        mirror.on_item_added(user_text(item_id, text))
        mirror.on_item_done(user_text(item_id, text))
    events = restore_events(mirror.restore_plan())
    assert [e.item.id for e in events] == ["u1", "u2"]
    assert [e.event_id for e in events] == ["restore_u1", "restore_u2"]
    for event in events:
        assert official_client_event_error(event.to_dict()) is None


def test_client_items_are_restored_until_the_server_confirms_them():
    mirror = ConversationMirror()
    mirror.on_item_added(user_text("u1", "spoken"))
    mirror.on_item_done(user_text("u1", "spoken"))
    mirror.on_client_item("item_1", user_text(None, "typed"))
    output = {"type": "function_call_output", "call_id": "call_9", "output": "{}"}
    mirror.on_client_item("item_2", output)
    plan = mirror.restore_plan()
    # The output's call is not in the conversation, so it cannot be restored.
    assert plan == [user_text("u1", "spoken"), user_text(None, "typed")]
    # The echo confirms the typed item: it is final, and restored under its id.
    mirror.on_item_added(user_text("u2", "typed"))
    mirror.drop_unfinished()
    assert [i.get("id") for i in mirror.restore_plan()] == ["u1", "u2"]


def test_refused_client_items_are_never_restored():
    mirror = ConversationMirror()
    mirror.on_client_item("item_1", user_text(None, "refused"))
    mirror.forget_client_item("item_1")
    assert mirror.restore_plan() == []


def test_function_call_with_complete_arguments_survives_a_drop_before_its_done():
    mirror = ConversationMirror()
    call = {"id": "f1", "type": "function_call", "call_id": "c1", "name": "f", "arguments": ""}
    mirror.on_item_added(call)
    mirror.on_item_added({"id": "a1", "type": "message", "role": "assistant", "content": []})
    mirror.on_function_call_arguments("f1", "c1", "f", '{"x": 1}')
    mirror.drop_unfinished()
    assert mirror.restore_plan() == [
        {"type": "function_call", "id": "f1", "call_id": "c1", "name": "f", "arguments": '{"x": 1}'}
    ]
    assert mirror.get("a1") is None, "the half-said assistant message is forgotten"
