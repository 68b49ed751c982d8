"""Where a Realtime session is: one explicit phase, and the transitions it may take.

Everything that depends on "where are we" (may items and responses go out, is user
audio held, does a lost connection mean a reconnect) reads the one phase kept here;
the transitions are data (:data:`TRANSITIONS`), and each is logged.

::

    CLOSED -> CONNECTING -> CONFIGURING -> (RESTORING ->) READY -> RETIRING
                 ^              |                           |         |
                 +--------------+------- connection lost ---+---------+

``CLOSED`` is reachable from everywhere (the service stops, or a fatal error).
"""

from __future__ import annotations

from enum import Enum

from loguru import logger


class Phase(Enum):
    """The phase of a Realtime session."""

    CLOSED = "closed"
    """Not running: before start, after stop or after an error that retrying cannot fix."""
    CONNECTING = "connecting"
    """Opening a connection, or waiting to open the next one after a drop."""
    CONFIGURING = "configuring"
    """Connected; the session configuration is sent (on ``session.created``, or at once
    on a sideband connection) and not confirmed yet. User audio, items and responses
    wait."""
    RESTORING = "restoring"
    """Configured; the conversation of the lost connection is being rebuilt. Items may
    go out, user audio still waits."""
    READY = "ready"
    """Configured: everything goes out as it comes."""
    RETIRING = "retiring"
    """The connection is being closed on purpose (rollover, ``session_expired``);
    nothing more goes out on it, and the next connection restores the conversation."""

    @property
    def connected(self) -> bool:
        """Whether a connection is open (or being recycled) in this phase."""
        return self in _CONNECTED

    @property
    def configured(self) -> bool:
        """Whether the server holds this session's configuration, so items may go out."""
        return self in _CONFIGURED


_CONNECTED = frozenset({Phase.CONFIGURING, Phase.RESTORING, Phase.READY, Phase.RETIRING})
_CONFIGURED = frozenset({Phase.RESTORING, Phase.READY})

TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.CLOSED: frozenset({Phase.CONNECTING}),
    Phase.CONNECTING: frozenset({Phase.CONFIGURING, Phase.CLOSED}),
    Phase.CONFIGURING: frozenset(
        {Phase.RESTORING, Phase.READY, Phase.RETIRING, Phase.CONNECTING, Phase.CLOSED}
    ),
    Phase.RESTORING: frozenset({Phase.READY, Phase.RETIRING, Phase.CONNECTING, Phase.CLOSED}),
    Phase.READY: frozenset({Phase.RETIRING, Phase.CONNECTING, Phase.CLOSED}),
    Phase.RETIRING: frozenset({Phase.CONNECTING, Phase.CLOSED}),
}
"""Phase -> the phases it may move to. Everything that moves the phase is checked here."""


class PhaseError(RuntimeError):
    """A transition that :data:`TRANSITIONS` does not allow (a bug in the caller)."""


class PhaseTracker:
    """Holds the phase; every change goes through :meth:`move`, which logs it.

    Args:
        name: Prefix of the log lines (the service's name).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._phase = Phase.CLOSED

    @property
    def phase(self) -> Phase:
        """The current phase."""
        return self._phase

    def move(self, to: Phase, why: str) -> None:
        """Move to another phase.

        Args:
            to: The new phase (moving to the current one does nothing).
            why: What caused it, in words (for the log).

        Raises:
            PhaseError: ``TRANSITIONS`` does not allow it.
        """
        if to is self._phase:
            return
        if to not in TRANSITIONS[self._phase]:
            raise PhaseError(f"{self._name}: no transition {self._phase.value} -> {to.value}")
        logger.debug(f"{self._name}: {self._phase.value} -> {to.value} ({why})")
        self._phase = to
