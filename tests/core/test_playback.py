import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipecat_realtime_openai.core.playback import (
    AudioItem,
    DeleteItem,
    PlaybackTracker,
    TruncateItem,
    truncation_plan,
)

PCM24K = 48.0  # bytes per ms of 24 kHz 16-bit mono


def item(item_id: str, ms: float, response_id: str = "resp_1", content_index: int = 0):
    return AudioItem(item_id, content_index, response_id, int(ms * PCM24K))


class TestTruncationPlan:
    def test_item_being_heard_is_truncated_at_played_ms(self) -> None:
        plan = truncation_plan([item("a", 2000)], 1234.9, PCM24K)
        assert plan == [TruncateItem("a", 0, 1234)]

    def test_truncate_reports_the_audio_received_for_the_item(self) -> None:
        [first, _] = truncation_plan([item("a", 2000), item("b", 900)], 500.0, PCM24K)
        assert isinstance(first, TruncateItem)
        assert (first.audio_end_ms, first.audio_received_ms) == (500, 2000)

    def test_truncate_never_exceeds_received_audio(self) -> None:
        # The reported failure: 2535 ms requested when only 2450 ms existed.
        odd = AudioItem("a", 0, "r", 2450 * 48 + 47)  # 2450.98 ms received
        plan = truncation_plan([odd], 2450.97, PCM24K)
        assert plan == [TruncateItem("a", 0, 2450)]

    def test_fully_played_items_need_nothing_and_later_ones_are_handled(self) -> None:
        items = [item("a", 1000), item("b", 1000), item("c", 1000)]
        plan = truncation_plan(items, 1500, PCM24K)
        assert plan == [TruncateItem("b", 0, 500), DeleteItem("c")]

    def test_nothing_played_deletes_every_item_instead_of_truncating_at_zero(self) -> None:
        items = [item("a", 500), item("b", 500)]
        assert truncation_plan(items, 0, PCM24K) == [DeleteItem("a"), DeleteItem("b")]

    def test_under_one_ms_heard_counts_as_not_heard(self) -> None:
        assert truncation_plan([item("a", 500)], 0.7, PCM24K) == [DeleteItem("a")]

    def test_all_played_needs_nothing(self) -> None:
        items = [item("a", 300), item("b", 300)]
        assert truncation_plan(items, 600, PCM24K) == []
        assert truncation_plan(items, 10_000, PCM24K) == []

    def test_item_boundary_exactly(self) -> None:
        items = [item("a", 300), item("b", 300)]
        assert truncation_plan(items, 300, PCM24K) == [DeleteItem("b")]

    def test_later_part_of_a_heard_item_is_not_deleted(self) -> None:
        items = [item("a", 300, content_index=0), item("a", 300, content_index=1)]
        assert truncation_plan(items, 100, PCM24K) == [TruncateItem("a", 0, 100)]

    def test_g711_rate(self) -> None:
        items = [AudioItem("a", 0, "r", 8 * 1000)]
        assert truncation_plan(items, 250.5, 8.0) == [TruncateItem("a", 0, 250)]

    def test_rejects_non_positive_rate(self) -> None:
        with pytest.raises(ValueError):
            truncation_plan([item("a", 10)], 5, 0)

    @given(
        sizes=st.lists(st.integers(0, 200_000), min_size=1, max_size=6),
        played_ms=st.floats(-100.0, 30_000.0, allow_nan=False),
        bytes_per_ms=st.sampled_from([48.0, 8.0, 32.0, 44.1, 2.0]),
    )
    def test_never_above_received_nor_negative(
        self, sizes: list[int], played_ms: float, bytes_per_ms: float
    ) -> None:
        items = [AudioItem(f"i{n}", 0, "r", size) for n, size in enumerate(sizes)]
        received = {it.item_id: it.bytes_received / bytes_per_ms for it in items}
        plan = truncation_plan(items, played_ms, bytes_per_ms)
        truncates = [a for a in plan if isinstance(a, TruncateItem)]
        assert len(truncates) <= 1
        for action in truncates:
            assert 0 < action.audio_end_ms <= received[action.item_id]
            assert action.audio_end_ms <= played_ms
        deleted = [a.item_id for a in plan if isinstance(a, DeleteItem)]
        # Everything after the heard item is deleted, nothing before it is touched.
        acted = [a.item_id for a in plan]
        assert acted == [it.item_id for it in items][len(items) - len(acted) :]
        assert len(set(deleted)) == len(deleted)


class TestPlaybackTracker:
    def test_audio_before_playback_started_counts_as_unheard(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48_000)
        assert tracker.plan_interruption(now=50.0) == [DeleteItem("a")]

    def test_truncates_at_wall_time_since_bot_started_speaking(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 1000)
        tracker.on_audio("a", 0, "r1", 48 * 1000)
        tracker.on_playback_started(10.0)
        tracker.on_audio("b", 0, "r1", 48 * 1000)
        plan = tracker.plan_interruption(now=11.25)
        assert plan == [TruncateItem("a", 0, 1250), DeleteItem("b")]

    def test_second_item_starts_after_first_finished(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 400)
        tracker.on_audio("b", 0, "r1", 48 * 1000)
        tracker.on_playback_started(0.0)
        assert tracker.plan_interruption(now=0.9) == [TruncateItem("b", 0, 500)]

    def test_played_past_complete_audio_is_capped(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_playback_started(0.0)
        tracker.on_audio("a", 0, "r1", 48 * 2450 + 20)
        tracker.on_audio_done("a", 0)
        # The clock says 2.535 s but the item had only 2450 ms: nothing left to cut.
        assert tracker.plan_interruption(now=2.535) == []

    def test_played_past_audio_still_streaming_truncates_at_what_arrived(self) -> None:
        # The network fell behind the playback clock: the server generated more than
        # arrived, and the user heard only what arrived.
        tracker = PlaybackTracker(PCM24K)
        tracker.on_playback_started(0.0)
        tracker.on_audio("a", 0, "r1", 48 * 2450 + 20)
        assert tracker.plan_interruption(now=2.535) == [TruncateItem("a", 0, 2450)]

    def test_response_done_ends_the_streaming_of_its_items(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_playback_started(0.0)
        tracker.on_audio("a", 0, "r1", 48 * 500)
        tracker.on_audio("x", 0, "r2", 48 * 500)
        tracker.on_response_done("r2")
        assert [i.streaming for i in tracker.items] == [False, False]
        assert tracker.plan_interruption(now=5.0) == []

    def test_a_new_part_ends_the_streaming_of_the_one_before(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_playback_started(0.0)
        tracker.on_audio("a", 0, "r1", 48 * 300)
        tracker.on_audio("b", 0, "r1", 48 * 300)
        # b is still streaming, so having played past it is truncated at its 300 ms.
        assert tracker.plan_interruption(now=1.0) == [TruncateItem("b", 0, 300)]

    def test_plan_resets_state_and_late_audio_of_interrupted_response_is_dropped(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 4800)
        tracker.on_playback_started(0.0)
        tracker.plan_interruption(now=0.05)
        assert tracker.items == []
        assert not tracker.is_playing
        assert tracker.on_audio("a", 0, "r1", 4800) is False
        assert tracker.items == []
        assert tracker.on_audio("x", 0, "r2", 4800) is True
        assert tracker.plan_interruption(now=1.0) == [DeleteItem("x")]

    def test_stopped_speaking_counts_everything_received_as_played(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 500)
        tracker.on_playback_started(0.0)
        tracker.on_playback_stopped(0.1)  # early stop still means the queue drained
        tracker.on_audio("b", 0, "r2", 48 * 800)
        # New audio not yet playing: only b is affected, a is untouched.
        assert tracker.plan_interruption(now=5.0) == [DeleteItem("b")]

    def test_stop_without_start_claims_nothing_was_heard(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 500)
        tracker.on_playback_stopped(1.0)
        assert tracker.plan_interruption(now=2.0) == [DeleteItem("a")]

    def test_new_audio_after_stop_plays_from_next_start(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 500)
        tracker.on_playback_started(0.0)
        tracker.on_playback_stopped(0.5)
        tracker.on_audio("b", 0, "r2", 48 * 800)
        tracker.on_playback_started(3.0)
        assert tracker.plan_interruption(now=3.3) == [TruncateItem("b", 0, 300)]
        assert tracker.items == []

    def test_item_continuing_after_stop_is_measured_from_its_start(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 500)
        tracker.on_playback_started(0.0)
        tracker.on_playback_stopped(0.6)  # network stall: transport ran dry mid-item
        tracker.on_audio("a", 0, "r1", 48 * 500)
        tracker.on_playback_started(2.0)
        assert tracker.plan_interruption(now=2.2) == [TruncateItem("a", 0, 700)]

    def test_new_response_queued_behind_one_still_playing(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 1000)
        tracker.on_playback_started(0.0)
        tracker.on_audio("b", 0, "r2", 48 * 1000)
        plan = tracker.plan_interruption(now=1.2)
        assert plan == [TruncateItem("b", 0, 200)]

    def test_idle_gap_before_new_audio_is_not_counted_as_heard(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 500, now=0.0)
        tracker.on_playback_started(0.0)
        # a finished at 0.5 s; the next response's audio arrives at 2.0 s without the
        # transport reporting a stop in between.
        tracker.on_audio("b", 0, "r2", 48 * 1000, now=2.0)
        assert tracker.plan_interruption(now=2.4) == [TruncateItem("b", 0, 400)]

    def test_idle_gap_is_detected_after_played_items_were_dropped(self) -> None:
        # The queue total must shrink when played items leave the queue, or a long item
        # dropped earlier would hide the idle gap before the next audio.
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 5000)
        tracker.on_playback_started(0.0)
        tracker.on_audio("b", 0, "r1", 48 * 500)
        tracker.on_playback_stopped(6.0)  # a is dropped; b (the newest) stays
        assert [kept.item_id for kept in tracker.items] == ["b"]
        tracker.on_playback_started(7.0)
        # b finished at 7.5 s; the next audio arrives at 11.0 s.
        tracker.on_audio("c", 0, "r2", 48 * 1000, now=11.0)
        assert tracker.plan_interruption(now=11.3) == [TruncateItem("c", 0, 300)]

    def test_audio_without_now_keeps_continuous_clock(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 500)
        tracker.on_playback_started(0.0)
        tracker.on_audio("b", 0, "r2", 48 * 1000)
        tracker.on_response_done("r2")
        assert tracker.plan_interruption(now=2.4) == []

    def test_second_start_while_playing_keeps_first_start(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 48 * 1000)
        tracker.on_playback_started(0.0)
        tracker.on_playback_started(0.5)
        assert tracker.plan_interruption(now=0.6) == [TruncateItem("a", 0, 600)]

    def test_reset_forgets_everything(self) -> None:
        tracker = PlaybackTracker(PCM24K)
        tracker.on_audio("a", 0, "r1", 4800)
        tracker.on_playback_started(0.0)
        tracker.plan_interruption(now=0.01)
        tracker.on_audio("b", 0, "r2", 4800)
        tracker.reset()
        assert tracker.items == []
        assert tracker.on_audio("c", 0, "r1", 4800) is True  # r1 no longer remembered
        assert tracker.played_ms(100.0) == 0.0

    def test_rejects_non_positive_rate(self) -> None:
        with pytest.raises(ValueError):
            PlaybackTracker(0)

    @given(
        chunks=st.lists(
            st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 9600)),
            min_size=1,
            max_size=20,
        ),
        start=st.floats(0, 5),
        stop_after=st.one_of(st.none(), st.integers(0, 19)),
        interrupt_delay=st.floats(0, 10),
    )
    def test_tracker_plans_stay_within_received_audio(
        self,
        chunks: list[tuple[str, int]],
        start: float,
        stop_after: int | None,
        interrupt_delay: float,
    ) -> None:
        tracker = PlaybackTracker(PCM24K)
        received: dict[str, int] = {}
        tracker.on_playback_started(start)
        for n, (item_id, nbytes) in enumerate(chunks):
            tracker.on_audio(item_id, 0, "r", nbytes, now=start + n * 0.01)
            received[item_id] = received.get(item_id, 0) + nbytes
            if stop_after == n:
                tracker.on_playback_stopped(start + n * 0.01)
                tracker.on_playback_started(start + n * 0.01 + 0.001)
        plan = tracker.plan_interruption(now=start + interrupt_delay)
        for action in plan:
            if isinstance(action, TruncateItem):
                assert 0 < action.audio_end_ms <= received[action.item_id] / PCM24K
