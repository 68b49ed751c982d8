from hypothesis import given
from hypothesis import strategies as st

from pipecat_realtime_openai.core.lifecycle import Closing, ResponseLifecycle


def test_server_initiated_response_opens_and_closes_one_pair() -> None:
    life = ResponseLifecycle()
    assert life.on_response_created("r1") is True
    assert life.active == "r1"
    assert life.on_audio("r1") is True
    assert life.on_audio("r1") is False  # second audio item of the same response
    assert life.on_response_done("r1") == Closing(tts_stopped=True, full_response_end=True)
    assert life.active is None


def test_text_only_response_has_no_tts_pair() -> None:
    life = ResponseLifecycle()
    life.on_response_created("r1")
    assert life.on_response_done("r1") == Closing(full_response_end=True)


def test_client_requested_response_starts_at_request_not_at_creation() -> None:
    life = ResponseLifecycle()
    assert life.on_response_requested() is True
    assert life.awaiting_creation and life.busy
    assert life.on_response_created("r1") is False
    assert not life.awaiting_creation
    assert life.on_audio("r1") is True
    assert life.on_response_done("r1") == Closing(tts_stopped=True, full_response_end=True)


def test_duplicate_created_and_unknown_done_are_ignored() -> None:
    life = ResponseLifecycle()
    life.on_response_created("r1")
    assert life.on_response_created("r1") is False
    assert life.on_response_done("other") == Closing()
    assert life.on_response_done("r1").full_response_end is True
    assert life.on_response_done("r1") == Closing()


def test_request_while_active_is_owed_until_done() -> None:
    life = ResponseLifecycle()
    life.on_response_created("r1")
    assert life.on_response_requested() is False
    assert life.on_response_requested() is False  # still only one owed
    assert life.owed
    closing = life.on_response_done("r1")
    assert closing == Closing(full_response_end=True, response_create_due=True)
    assert not life.owed
    assert life.on_response_requested() is True


def test_request_while_awaiting_creation_is_owed() -> None:
    life = ResponseLifecycle()
    assert life.on_response_requested() is True
    assert life.on_response_requested() is False
    life.on_response_created("r1")
    assert life.on_response_done("r1").response_create_due is True


def test_rejected_request_closes_its_start_frame() -> None:
    life = ResponseLifecycle()
    life.on_response_requested()
    assert life.on_request_failed(already_active=False) == Closing(full_response_end=True)
    assert not life.busy and not life.owed
    assert life.on_request_failed(already_active=False) == Closing()


def test_rejected_because_of_untracked_active_response_is_owed() -> None:
    life = ResponseLifecycle()
    life.on_response_requested()
    assert life.on_request_failed(already_active=True).full_response_end is True
    assert life.owed
    # The blocking response was never seen; its done still releases the owed request.
    assert life.on_response_done("oob") == Closing(response_create_due=True)
    assert not life.owed


def test_interruption_stops_tts_now_and_ends_response_on_done() -> None:
    life = ResponseLifecycle()
    life.on_response_created("r1")
    life.on_audio("r1")
    assert life.on_interrupted() == Closing(tts_stopped=True)
    assert life.on_interrupted() == Closing()
    assert life.on_audio("r1") is False
    assert not life.accepts_audio("r1")
    assert life.on_response_done("r1") == Closing(full_response_end=True)


def test_interruption_before_audio_or_without_response() -> None:
    life = ResponseLifecycle()
    assert life.on_interrupted() == Closing()
    life.on_response_created("r1")
    assert life.on_interrupted() == Closing()
    assert life.on_audio("r1") is False


def test_audio_of_other_response_is_not_accepted() -> None:
    life = ResponseLifecycle()
    life.on_response_created("r2")
    assert life.accepts_audio("r2")
    assert not life.accepts_audio("r1")
    assert life.on_audio("r1") is False


def test_disconnect_closes_everything_and_reports_owed() -> None:
    life = ResponseLifecycle()
    life.on_response_created("r1")
    life.on_audio("r1")
    life.on_response_requested()
    assert life.on_disconnected() == Closing(True, True, True)
    assert not life.busy and not life.owed
    assert life.on_disconnected() == Closing()


def test_disconnect_while_awaiting_creation_closes_start() -> None:
    life = ResponseLifecycle()
    life.on_response_requested()
    assert life.on_disconnected() == Closing(full_response_end=True)


EVENTS = st.sampled_from(
    ["request", "fail", "fail_active", "created", "audio", "done", "interrupt", "disconnect"]
)


@given(events=st.lists(st.tuples(EVENTS, st.sampled_from(["r1", "r2", "r3"])), max_size=40))
def test_frame_pairs_always_balance(events: list[tuple[str, str]]) -> None:
    life = ResponseLifecycle()
    open_starts = 0
    open_tts = 0

    def close(closing: Closing) -> None:
        nonlocal open_starts, open_tts
        open_tts -= closing.tts_stopped
        open_starts -= closing.full_response_end
        assert open_starts in (0, 1) and open_tts in (0, 1)

    for kind, rid in events:
        if kind == "request":
            open_starts += life.on_response_requested()
        elif kind == "fail":
            close(life.on_request_failed(already_active=False))
        elif kind == "fail_active":
            close(life.on_request_failed(already_active=True))
        elif kind == "created":
            open_starts += life.on_response_created(rid)
        elif kind == "audio":
            open_tts += life.on_audio(rid)
        elif kind == "done":
            close(life.on_response_done(rid))
        elif kind == "interrupt":
            close(life.on_interrupted())
        else:
            close(life.on_disconnected())
        assert open_starts in (0, 1) and open_tts in (0, 1)
        assert open_tts <= open_starts
    close(life.on_disconnected())
    assert open_starts == 0 and open_tts == 0


def test_next_response_created_before_cancelled_done_takes_over_the_pair() -> None:
    life = ResponseLifecycle()
    life.on_response_created("r1")
    life.on_audio("r1")
    assert life.on_interrupted() == Closing(tts_stopped=True)
    assert life.on_response_created("r2") is False  # start already open
    assert life.active == "r2"
    assert life.accepts_audio("r2")
    assert life.on_audio("r2") is True
    assert life.on_response_done("r1") == Closing()
    assert life.on_response_done("r2") == Closing(tts_stopped=True, full_response_end=True)


def test_overlapping_response_without_interruption_is_not_tracked() -> None:
    life = ResponseLifecycle()
    life.on_response_created("r1")
    assert life.on_response_created("oob") is False
    assert life.active == "r1"
    assert not life.accepts_audio("oob")
