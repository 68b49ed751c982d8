"""When a session is recycled: when due, at a quiet moment, and never past the deadline."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipecat_realtime_openai.core.rollover import Activity, RolloverSchedule

QUIET = Activity()
TALKING = Activity(user_speaking=True)
ANSWERING = Activity(response_running=True)
PLAYING = Activity(bot_speaking=True)
SCHEDULE = RolloverSchedule(max_session_duration=3300.0, grace=120.0, poll=0.5)


def test_not_due_yet_waits_until_due_whatever_happens():
    assert SCHEDULE.next_check(0.0, QUIET) == 3300.0
    assert SCHEDULE.next_check(3000.0, ANSWERING) == 300.0


def test_due_and_quiet_rolls_over_now():
    assert SCHEDULE.next_check(3300.0, QUIET) is None
    assert SCHEDULE.next_check(3350.0, QUIET) is None


@pytest.mark.parametrize("activity", [TALKING, ANSWERING, PLAYING])
def test_due_but_busy_polls_until_the_deadline(activity):
    assert not activity.quiet
    assert SCHEDULE.next_check(3300.0, activity) == 0.5
    assert SCHEDULE.next_check(3419.8, activity) == pytest.approx(0.2)
    assert SCHEDULE.next_check(3420.0, activity) is None


def test_default_deadline_is_before_the_server_limit():
    assert SCHEDULE.deadline < 3600


@given(
    age=st.floats(0.0, 10_000.0),
    talking=st.booleans(),
    answering=st.booleans(),
    playing=st.booleans(),
)
def test_never_rolls_early_and_never_past_the_deadline(age, talking, answering, playing):
    activity = Activity(response_running=answering, user_speaking=talking, bot_speaking=playing)
    wait = SCHEDULE.next_check(age, activity)
    if age < SCHEDULE.max_session_duration:
        assert wait is not None and age + wait <= SCHEDULE.max_session_duration + 1e-6
    elif wait is not None:
        assert not activity.quiet and age + wait <= SCHEDULE.deadline + 1e-6
