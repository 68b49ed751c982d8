"""Reconnection decisions: how long to wait, and whether to try at all.

Pure logic; the connection layer sleeps and dials.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pipecat_realtime_openai.errors import ErrorAction, classify_error, classify_http_status


@dataclass
class Backoff:
    """Exponential backoff with jitter and an optional retry limit.

    Attributes:
        initial: Delay of the first waited retry, in seconds.
        maximum: Upper bound of any delay, in seconds (jitter included).
        factor: Growth of the delay between consecutive retries.
        jitter: Relative spread: a delay ``d`` becomes uniform in
            ``[d * (1 - jitter), d * (1 + jitter)]`` so many clients do not retry in step.
        max_retries: Retries allowed before giving up; None retries forever.
        first_retry_immediate: The first retry happens with no wait, because most drops
            are one-off network blips.
        rng: Source of randomness; inject a seeded one in tests.
    """

    initial: float = 0.25
    maximum: float = 10.0
    factor: float = 2.0
    jitter: float = 0.2
    max_retries: int | None = 8
    first_retry_immediate: bool = True
    rng: random.Random = field(default_factory=random.Random, repr=False)
    attempts: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0:
            raise ValueError("backoff delays must not be negative")
        if self.factor < 1:
            raise ValueError("backoff factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter must be between 0 and 1")
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError("max_retries must not be negative")

    def next_delay(self) -> float | None:
        """Return the wait before the next retry and count it.

        Returns:
            Seconds to wait, or None when the retry budget is spent.
        """
        if self.max_retries is not None and self.attempts >= self.max_retries:
            return None
        attempt = self.attempts
        self.attempts += 1
        if self.first_retry_immediate:
            if attempt == 0:
                return 0.0
            attempt -= 1
        base = min(self.maximum, self.initial * self.factor**attempt)
        spread = base * self.jitter
        delay = self.rng.uniform(base - spread, base + spread)
        return max(0.0, min(self.maximum, delay))

    def reset(self) -> None:
        """Start over after a successful reconnect and restore."""
        self.attempts = 0


@dataclass(frozen=True, slots=True)
class DisconnectReason:
    """Why a connection ended or could not be opened.

    Attributes:
        error_code: ``error.code`` of the last server error event, if any.
        error_type: ``error.type`` of that event, if any.
        http_status: HTTP status of a refused handshake, if any.
    """

    error_code: str | None = None
    error_type: str | None = None
    http_status: int | None = None


class ReconnectPolicy:
    """Decides whether a lost connection is worth another attempt."""

    def should_retry(self, reason: DisconnectReason) -> bool:
        """Tell whether to reconnect after ``reason``.

        Args:
            reason: What ended the connection.

        Returns:
            False for fatal errors (bad key, no quota, HTTP 401/403) because retrying
            them never succeeds; True for everything else, including plain drops.
        """
        if reason.http_status is not None:
            if classify_http_status(reason.http_status).action is ErrorAction.FATAL:
                return False
        if reason.error_code is not None or reason.error_type is not None:
            rule = classify_error(reason.error_code, reason.error_type)
            if rule.action is ErrorAction.FATAL:
                return False
        return True
