"""PauseDetector: one pending check, moved along while audio flows."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipecat_realtime_openai.audio.pause import PauseDetector


def test_first_audio_schedules_one_check_later_audio_does_not() -> None:
    pause = PauseDetector(0.04)
    assert pause.on_audio(1.0) == pytest.approx(1.04)
    assert pause.check_pending
    assert pause.on_audio(1.02) is None
    assert pause.on_audio(1.03) is None


def test_check_moves_along_while_audio_flows_then_reports_the_pause() -> None:
    pause = PauseDetector(0.04)
    pause.on_audio(1.0)
    pause.on_audio(1.02)
    assert pause.check(1.04) == pytest.approx(1.06)  # audio at 1.02: not paused yet
    assert pause.check_pending
    assert pause.check(1.06) is None  # nothing since 1.02
    assert not pause.check_pending
    assert pause.on_audio(2.0) == pytest.approx(2.04)  # a new check after the pause


def test_cancel_forgets_the_pending_check() -> None:
    pause = PauseDetector(0.04)
    pause.on_audio(1.0)
    pause.cancel()
    assert not pause.check_pending
    assert pause.on_audio(1.01) == pytest.approx(1.05)


def test_negative_pause_is_refused() -> None:
    with pytest.raises(ValueError):
        PauseDetector(-0.001)


@given(
    gaps=st.lists(st.floats(0.0, 0.1), min_size=1, max_size=60),
    pause_s=st.floats(0.01, 0.08),
)
def test_every_pause_is_reported_once_and_only_pauses_are(
    gaps: list[float], pause_s: float
) -> None:
    """Simulate a timer that runs each check when due, between audio arrivals."""
    pause = PauseDetector(pause_s)
    now = 0.0
    due: float | None = None
    last_audio: float | None = None
    for gap in gaps:
        arrival = now + gap
        reported = 0
        while due is not None and due <= arrival:
            now = due
            due = pause.check(now)
            if due is None:
                reported += 1
                # Only once the gap since the last audio reached the pause.
                assert last_audio is not None and now >= last_audio + pause_s - 1e-9
        if last_audio is not None:
            # A gap of at least the pause (the timer fires before the next audio) is
            # reported exactly once; a shorter one never.
            assert reported == (1 if arrival >= last_audio + pause_s else 0)
        now = arrival
        check_at = pause.on_audio(now)
        last_audio = now
        if check_at is not None:
            assert due is None, "a second check was scheduled while one was pending"
            due = check_at
    while due is not None:
        now = due
        due = pause.check(now)
    assert last_audio is not None and now == pytest.approx(last_audio + pause_s)
