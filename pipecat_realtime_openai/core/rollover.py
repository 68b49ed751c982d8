"""Session rollover decisions: when to recycle a connection before the server ends it.

The server ends every Realtime session after 60 minutes (``session_expired``). Recycling
the connection a little earlier, at a moment when nobody is speaking and no response is
running, hides the reconnect from the user; a hard deadline makes sure it still happens
before the server's limit if the conversation never pauses.

Pure logic; the service keeps the clock and does the reconnect.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_POLL_SECONDS = 0.1
"""How often a due rollover checks for a quiet moment."""


@dataclass(frozen=True, slots=True)
class Activity:
    """What is going on in the conversation right now.

    Attributes:
        response_running: A response was requested or is being produced.
        user_speaking: The user is talking (server VAD or local turn detection).
        bot_speaking: Assistant audio is still playing out.
    """

    response_running: bool = False
    user_speaking: bool = False
    bot_speaking: bool = False

    @property
    def quiet(self) -> bool:
        """Whether a reconnect now would interrupt nothing."""
        return not (self.response_running or self.user_speaking or self.bot_speaking)


@dataclass(frozen=True, slots=True)
class RolloverSchedule:
    """When a connection is recycled.

    Attributes:
        max_session_duration: Seconds after which the rollover is due.
        grace: Seconds a due rollover waits for a quiet moment.
        poll: Seconds between checks while waiting for a quiet moment.
    """

    max_session_duration: float
    grace: float
    poll: float = DEFAULT_POLL_SECONDS

    @property
    def deadline(self) -> float:
        """Connection age at which the rollover happens whatever is going on."""
        return self.max_session_duration + self.grace

    def next_check(self, age: float, activity: Activity) -> float | None:
        """Decide whether to roll over now.

        Args:
            age: Seconds since the connection opened.
            activity: What is going on now.

        Returns:
            None to roll over now, else the seconds to wait before asking again.
        """
        if age < self.max_session_duration:
            return self.max_session_duration - age
        if activity.quiet or age >= self.deadline:
            return None
        return min(self.poll, self.deadline - age)
