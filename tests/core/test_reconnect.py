import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipecat_realtime_openai.core.reconnect import Backoff, DisconnectReason, ReconnectPolicy


def test_first_retry_is_immediate_then_grows() -> None:
    backoff = Backoff(jitter=0.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(5)]
    assert delays == [0.0, 0.25, 0.5, 1.0, 2.0]


def test_without_immediate_first_retry_starts_at_initial() -> None:
    backoff = Backoff(jitter=0.0, first_retry_immediate=False)
    assert [backoff.next_delay() for _ in range(3)] == [0.25, 0.5, 1.0]


def test_gives_up_after_max_retries_and_reset_restores_budget() -> None:
    backoff = Backoff(max_retries=3, rng=random.Random(0))
    assert all(backoff.next_delay() is not None for _ in range(3))
    assert backoff.next_delay() is None
    assert backoff.next_delay() is None
    backoff.reset()
    assert backoff.next_delay() == 0.0


def test_unlimited_retries_are_capped_at_maximum() -> None:
    backoff = Backoff(max_retries=None, maximum=3.0, jitter=0.5, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(100)]
    assert all(d is not None and 0.0 <= d <= 3.0 for d in delays)
    assert max(d for d in delays if d is not None) > 2.0


def test_same_seed_gives_same_delays() -> None:
    first = Backoff(rng=random.Random(42))
    second = Backoff(rng=random.Random(42))
    assert [first.next_delay() for _ in range(8)] == [second.next_delay() for _ in range(8)]


@given(
    initial=st.floats(0.0, 5.0),
    maximum=st.floats(0.0, 30.0),
    factor=st.floats(1.0, 4.0),
    jitter=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32),
)
def test_delays_stay_within_jitter_band_and_maximum(
    initial: float, maximum: float, factor: float, jitter: float, seed: int
) -> None:
    backoff = Backoff(
        initial=initial,
        maximum=maximum,
        factor=factor,
        jitter=jitter,
        max_retries=12,
        first_retry_immediate=False,
        rng=random.Random(seed),
    )
    for attempt in range(12):
        delay = backoff.next_delay()
        assert delay is not None
        base = min(maximum, initial * factor**attempt)
        assert 0.0 <= delay <= maximum
        assert delay >= base * (1 - jitter) - 1e-9
    assert backoff.next_delay() is None


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": -1.0}, {"factor": 0.5}, {"jitter": 1.5}, {"max_retries": -1}],
)
def test_rejects_nonsense_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (DisconnectReason(), True),
        (DisconnectReason(error_code="session_expired"), True),
        (DisconnectReason(error_code="server_error", error_type="server_error"), True),
        (DisconnectReason(error_code="invalid_api_key"), False),
        (DisconnectReason(error_code="insufficient_quota"), False),
        (DisconnectReason(error_code="account_deactivated"), False),
        (DisconnectReason(error_code="billing_hard_limit_reached"), False),
        (DisconnectReason(http_status=401), False),
        (DisconnectReason(http_status=403), False),
        (DisconnectReason(http_status=503), True),
        (DisconnectReason(error_code="unheard_of"), True),
    ],
)
def test_policy_never_retries_fatal_errors(reason: DisconnectReason, expected: bool) -> None:
    assert ReconnectPolicy().should_retry(reason) is expected
