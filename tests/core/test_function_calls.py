from hypothesis import given
from hypothesis import strategies as st

from pipecat_realtime_openai.core.function_calls import (
    FunctionCallTracker,
    PendingCall,
    parse_arguments,
)


def add(tracker: FunctionCallTracker, call_id: str, response_id: str = "r1") -> None:
    tracker.on_call_added(call_id, "get_weather", f"item_{call_id}", response_id)


class TestParseArguments:
    def test_object(self) -> None:
        assert parse_arguments('{"city": "Paris"}') == ({"city": "Paris"}, None)

    def test_blank_is_no_arguments(self) -> None:
        assert parse_arguments("  ") == ({}, None)

    def test_invalid_json_is_an_error(self) -> None:
        args, error = parse_arguments('{"city": ')
        assert args == {}
        assert error is not None and "Invalid JSON" in error

    def test_non_object_is_an_error(self) -> None:
        args, error = parse_arguments("[1, 2]")
        assert args == {}
        assert error is not None and "list" in error


class TestFunctionCallTracker:
    def test_arguments_done_returns_pending_call_once(self) -> None:
        tracker = FunctionCallTracker()
        add(tracker, "c1")
        call = tracker.on_arguments_done("c1", '{"city": "Oslo"}')
        assert call == PendingCall(
            "c1", "get_weather", "item_c1", "r1", {"city": "Oslo"}, '{"city": "Oslo"}', None
        )
        assert tracker.on_arguments_done("c1", '{"city": "Oslo"}') is None

    def test_unknown_call_gives_none(self) -> None:
        assert FunctionCallTracker().on_arguments_done("nope", "{}") is None

    def test_arguments_done_can_register_missed_call(self) -> None:
        tracker = FunctionCallTracker()
        call = tracker.on_arguments_done("c1", "{}", name="f", item_id="item_1", response_id="r1")
        assert call is not None and call.name == "f" and call.item_id == "item_1"
        assert tracker.is_open("c1")

    def test_invalid_arguments_are_reported_not_raised(self) -> None:
        tracker = FunctionCallTracker()
        add(tracker, "c1")
        call = tracker.on_arguments_done("c1", "{oops")
        assert call is not None and call.error is not None and call.arguments == {}
        assert call.raw_arguments == "{oops"

    def test_single_call_result_after_response_done(self) -> None:
        tracker = FunctionCallTracker()
        add(tracker, "c1")
        tracker.on_arguments_done("c1", "{}")
        assert tracker.on_response_done("r1") is False
        assert tracker.is_open("c1")
        assert tracker.on_result("c1") is True
        assert not tracker.is_open("c1")
        assert tracker.on_result("c1") is False
        assert "c1" in tracker.completed_ids

    def test_parallel_calls_get_one_response_create_after_the_last(self) -> None:
        tracker = FunctionCallTracker()
        for call_id in ("c1", "c2", "c3"):
            add(tracker, call_id)
            tracker.on_arguments_done(call_id, "{}")
        tracker.on_response_done("r1")
        assert tracker.on_result("c2") is False
        assert tracker.on_result("c1") is False
        assert tracker.outstanding() == ["c3"]
        assert tracker.on_result("c3") is True

    def test_results_before_response_done(self) -> None:
        tracker = FunctionCallTracker()
        add(tracker, "c1")
        tracker.on_arguments_done("c1", "{}")
        assert tracker.on_result("c1") is False  # more calls may still join r1
        add(tracker, "c2")
        tracker.on_arguments_done("c2", "{}")
        assert tracker.on_result("c2") is False
        assert tracker.on_response_done("r1") is True
        assert tracker.on_response_done("r1") is False

    def test_cancel_counts_like_a_result(self) -> None:
        tracker = FunctionCallTracker()
        add(tracker, "c1")
        add(tracker, "c2")
        tracker.on_arguments_done("c1", "{}")
        tracker.on_arguments_done("c2", "{}")
        tracker.on_response_done("r1")
        assert tracker.on_cancel("c1") is False
        assert tracker.on_result("c2") is True
        assert tracker.on_cancel("c2") is False

    def test_calls_without_arguments_are_dropped_when_response_ends(self) -> None:
        tracker = FunctionCallTracker()
        add(tracker, "c1")
        add(tracker, "c2")
        tracker.on_arguments_done("c1", "{}")
        assert tracker.on_response_done("r1") is False
        assert tracker.outstanding() == ["c1"]
        assert tracker.on_result("c1") is True

    def test_cancelled_response_with_only_unfinished_calls_needs_no_response(self) -> None:
        tracker = FunctionCallTracker()
        add(tracker, "c1")
        assert tracker.on_response_done("r1") is False
        assert tracker.outstanding() == []

    def test_response_without_calls(self) -> None:
        assert FunctionCallTracker().on_response_done("r9") is False

    def test_responses_are_independent(self) -> None:
        tracker = FunctionCallTracker()
        add(tracker, "a", "r1")
        add(tracker, "b", "r2")
        tracker.on_arguments_done("a", "{}")
        tracker.on_arguments_done("b", "{}")
        tracker.on_response_done("r1")
        tracker.on_response_done("r2")
        assert tracker.on_result("b") is True
        assert tracker.on_result("a") is True

    def test_duplicate_added_and_completed_calls_are_ignored(self) -> None:
        tracker = FunctionCallTracker()
        add(tracker, "c1")
        add(tracker, "c1")
        tracker.on_arguments_done("c1", "{}")
        tracker.on_response_done("r1")
        assert tracker.on_result("c1") is True
        add(tracker, "c1", "r2")  # a replayed event must not reopen the call
        assert not tracker.is_open("c1")

    def test_reset_keeps_runnable_calls_and_completed_ids(self) -> None:
        tracker = FunctionCallTracker()
        add(tracker, "done")
        add(tracker, "running")
        add(tracker, "partial", "r2")
        tracker.on_arguments_done("done", "{}")
        tracker.on_arguments_done("running", "{}")
        assert tracker.on_result("done") is False
        tracker.reset()
        assert tracker.outstanding() == ["running"]
        assert "done" in tracker.completed_ids
        # The response can no longer grow, so the last result triggers one response.
        assert tracker.on_result("running") is True

    @given(
        n_calls=st.integers(1, 6),
        data=st.data(),
    )
    def test_exactly_one_response_create_per_response_in_any_order(
        self, n_calls: int, data: st.DataObject
    ) -> None:
        tracker = FunctionCallTracker()
        ids = [f"c{i}" for i in range(n_calls)]
        for call_id in ids:
            add(tracker, call_id)
            tracker.on_arguments_done(call_id, "{}")
        events = [("result", call_id) for call_id in ids] + [("done", "r1")]
        order = data.draw(st.permutations(events))
        cancels = data.draw(st.sets(st.sampled_from(ids)))
        due = 0
        for kind, key in order:
            if kind == "done":
                due += tracker.on_response_done(key)
            elif key in cancels:
                due += tracker.on_cancel(key)
            else:
                due += tracker.on_result(key)
            # A duplicate result never triggers anything.
            if kind == "result":
                assert tracker.on_result(key) is False
        assert due == 1
        assert tracker.outstanding() == []
