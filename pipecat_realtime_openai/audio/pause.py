"""When has input audio paused? Decided with one pending check, not one timer per frame.

Resampling and batching hold back the last few milliseconds of audio until more
arrives; once the user's audio stops flowing, that tail must be flushed. Re-arming a
timer (or waking a task) on every 20 ms frame costs more than the frame's own work, so
:class:`PauseDetector` keeps at most one check pending: when the check comes due and
audio arrived meanwhile, the next check is simply moved to ``last audio + pause``.
"""

from __future__ import annotations


class PauseDetector:
    """Tells when no audio arrived for ``pause_s``, with at most one check pending.

    Times are seconds on one monotonic clock (the event loop's ``time()``).

    Args:
        pause_s: Silence after the last audio that counts as a pause.

    Raises:
        ValueError: When ``pause_s`` is negative.
    """

    def __init__(self, pause_s: float) -> None:
        if pause_s < 0:
            raise ValueError(f"pause_s must not be negative, got {pause_s}")
        self.pause_s = pause_s
        self._last_audio_at: float | None = None
        self._check_pending = False

    @property
    def check_pending(self) -> bool:
        """Whether a check is scheduled (the caller owns the actual timer)."""
        return self._check_pending

    def on_audio(self, now: float) -> float | None:
        """Record that audio arrived.

        Args:
            now: When it arrived.

        Returns:
            When to run :meth:`check` if no check is pending yet (schedule it), else None
            (the pending check will see this audio).
        """
        self._last_audio_at = now
        if self._check_pending:
            return None
        self._check_pending = True
        return now + self.pause_s

    def check(self, now: float) -> float | None:
        """Run a scheduled check.

        Args:
            now: When the check runs.

        Returns:
            None when input has paused (flush now; no check is pending any more), or
            when to check again because audio kept arriving.
        """
        last = self._last_audio_at
        if last is not None and last + self.pause_s > now:
            return last + self.pause_s
        self._check_pending = False
        return None

    def cancel(self) -> None:
        """Forget the pending check (its timer was cancelled)."""
        self._check_pending = False
