"""How often video frames go to the server: a rate limit on a clock passed in."""

from __future__ import annotations


class VideoRateLimit:
    """Accepts at most ``max_fps`` frames a second.

    Args:
        max_fps: Most frames accepted per second; 0 or less accepts none.
    """

    def __init__(self, max_fps: float) -> None:
        self._min_interval = 1.0 / max_fps if max_fps > 0 else float("inf")
        self._last_accepted: float | None = None

    def accept(self, now: float) -> bool:
        """Tell whether a frame arriving at ``now`` may be sent, and count it if so.

        Args:
            now: Monotonic seconds.
        """
        if self._min_interval == float("inf"):
            return False
        if self._last_accepted is not None and now - self._last_accepted < self._min_interval:
            return False
        self._last_accepted = now
        return True
