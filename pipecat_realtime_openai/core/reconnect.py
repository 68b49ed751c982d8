"""Reconnection decisions: how long to wait, and whether to try at all.

Pure logic; the connection layer sleeps and dials. :class:`ReconnectOptions` holds the
user's settings, :class:`ReconnectPlanner` turns each ended connection into the next
step (retry after a delay, stop, or give up).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from pipecat_realtime_openai.core.errors import ErrorAction, classify_error, classify_http_status


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
        close_code: WebSocket close code of a connection that closed, if known (a
            sideband connection closed normally means the call ended).
    """

    error_code: str | None = None
    error_type: str | None = None
    http_status: int | None = None
    close_code: int | None = None


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


@dataclass(frozen=True)
class ReconnectOptions:
    """How the service stays connected: reconnects, keepalive and session rollover.

    Attributes:
        max_retries: Reconnect attempts per outage before giving up with a fatal
            error; 0 never reconnects, None retries forever.
        initial_delay: Wait before the second attempt, in seconds (the first attempt
            is immediate); later waits double.
        max_delay: Longest wait between attempts, in seconds.
        jitter: Relative random spread of each wait (0 to 1), so many bots do not
            reconnect in step after a shared outage.
        ping_interval: Seconds between WebSocket keepalive pings; None disables them.
        ping_timeout: Seconds without a pong before the connection counts as dead.
        max_session_duration: Seconds after which the connection is recycled at the
            next quiet moment, before the server's 60 minute limit; None never
            recycles (the server's ``session_expired`` still reconnects).
        rollover_grace: Seconds a due rollover waits for a quiet moment (no response
            running, nobody speaking) before it happens anyway.
        max_restored_items: Keep only this many most recent items when restoring the
            conversation on a new connection; None restores all.
        max_turn_audio_secs: Longest spoken user turn whose audio is kept, so that a
            restore can recreate a turn that has no transcript (input transcription
            off, or the connection dropped before the transcript came). Audio is
            kept only while a turn is open (in manual turn mode from the pipeline's
            speech start, less the pre-roll, once it reports one; else from the last
            commit), plus a 5 s tail between turns; at 24 kHz
            that is 48 KB per second of speech. 0 keeps none: the memory a session
            needs is then that of a service without restores, and a turn without a
            transcript is left out of a restore.
        max_untranscribed_audio_secs: Most audio of finished user turns still without
            a transcript kept for restores, all turns together (with input
            transcription off that is every turn). Beyond it the oldest turns' audio
            is dropped, and those turns are left out of a restore. At 24 kHz the
            default holds at most 5.5 MiB per session.
    """

    max_retries: int | None = 10
    initial_delay: float = 0.25
    max_delay: float = 8.0
    jitter: float = 0.2
    ping_interval: float | None = 5.0
    ping_timeout: float | None = 5.0
    max_session_duration: float | None = 55 * 60.0
    rollover_grace: float = 120.0
    max_restored_items: int | None = None
    max_turn_audio_secs: float = 60.0
    max_untranscribed_audio_secs: float = 120.0

    def __post_init__(self) -> None:
        if self.max_turn_audio_secs < 0:
            raise ValueError("max_turn_audio_secs must not be negative")
        if self.max_untranscribed_audio_secs < 0:
            raise ValueError("max_untranscribed_audio_secs must not be negative")
        if self.max_session_duration is not None and self.max_session_duration <= 0:
            raise ValueError("max_session_duration must be positive (or None)")
        if self.rollover_grace < 0:
            raise ValueError("rollover_grace must not be negative")
        if self.max_restored_items is not None and self.max_restored_items < 0:
            raise ValueError("max_restored_items must not be negative")
        for name in ("ping_interval", "ping_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive (or None)")
        self.backoff()  # validates the delays

    def backoff(self, rng: random.Random | None = None) -> Backoff:
        """Return a fresh backoff following these options.

        Args:
            rng: Source of jitter; a seeded one makes the delays reproducible.
        """
        return Backoff(
            initial=self.initial_delay,
            maximum=self.max_delay,
            jitter=self.jitter,
            max_retries=self.max_retries,
            rng=rng if rng is not None else random.Random(),
        )


@dataclass(frozen=True, slots=True)
class ReconnectInfo:
    """What the ``on_reconnecting`` and ``on_reconnected`` event handlers receive.

    Attributes:
        attempt: Attempt number within the current outage (1 for the first).
        reason: Why the connection was lost, in words (e.g. ``session rollover``).
        delay: Seconds waited before this attempt (``on_reconnecting``).
        downtime: Seconds from losing the connection to having the session
            configured and the conversation restored (``on_reconnected``).
    """

    attempt: int
    reason: str
    delay: float = 0.0
    downtime: float = 0.0


@dataclass(frozen=True, slots=True)
class ConnectionEnd:
    """How a connection, or an attempt to open one, ended.

    Attributes:
        description: What happened, in words (for logs and event handlers).
        reason: The error code or HTTP status involved, if any.
        fatal_reported: A fatal error was already reported to the pipeline.
    """

    description: str
    reason: DisconnectReason = DisconnectReason()
    fatal_reported: bool = False


@dataclass(frozen=True, slots=True)
class Retry:
    """Open a new connection after ``delay`` seconds (attempt ``attempt`` of the outage)."""

    delay: float
    attempt: int


@dataclass(frozen=True, slots=True)
class Stop:
    """Do not reconnect.

    Attributes:
        report: ``"none"`` (nothing to say: shutdown, or the fatal error was already
            reported), ``"fatal"`` (the reason can never be fixed by retrying) or
            ``"gave_up"`` (the retry budget is spent).
    """

    report: Literal["none", "fatal", "gave_up"] = "none"


class ReconnectPlanner:
    """Turns each ended connection into the next step.

    Args:
        options: The user's reconnect options.
        rng: Source of jitter (seed it in tests).
    """

    def __init__(self, options: ReconnectOptions, rng: random.Random | None = None) -> None:
        self._backoff = options.backoff(rng)
        self._policy = ReconnectPolicy()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Attempts made in the current outage (0 while connected and restored)."""
        return self._attempt

    def after(self, end: ConnectionEnd) -> Retry | Stop:
        """Decide what follows a lost connection or a failed attempt.

        Args:
            end: How it ended.

        Returns:
            :class:`Retry` with the wait, or :class:`Stop` saying what to report.
        """
        if end.fatal_reported:
            return Stop()
        if not self._policy.should_retry(end.reason):
            return Stop("fatal")
        delay = self._backoff.next_delay()
        if delay is None:
            return Stop("gave_up")
        self._attempt += 1
        return Retry(delay, self._attempt)

    def on_restored(self) -> None:
        """The session is back: the next outage starts with a fresh retry budget."""
        self._backoff.reset()
        self._attempt = 0
