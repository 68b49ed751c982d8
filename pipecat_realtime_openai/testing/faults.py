"""Fault injection settings for the simulator.

They are read when they apply, so tests may change them between connections or in the
middle of one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SESSION_EXPIRED_MESSAGE = "Your session hit the maximum duration of 60 minutes."


@dataclass(frozen=True)
class InjectedError:
    """An `error` event the simulator sends instead of handling a client event.

    Attributes:
        code: Error code (e.g. ``server_error``).
        message: Error message.
        error_type: Error type (``invalid_request_error``, ``server_error``...).
        param: Offending parameter, if any.
    """

    code: str
    message: str = "Injected error."
    error_type: str = "invalid_request_error"
    param: str | None = None


@dataclass
class Faults:
    """What should go wrong, for resilience tests.

    Attributes:
        drop_after_server_events: Abort each connection (no close frame) once it has sent
            this many server events (counting `session.created`).
        drop_after_seconds: Abort each connection this long after it opened.
        errors_for: Client event type -> error to answer instead of handling the event.
        session_max_seconds: Session lifetime; when it runs out the client gets the real
            ``session_expired`` error and the connection closes. None: no limit.
        latency_seconds: Delay before each client event is handled (and before
            `session.created`).
        refuse_connections: Number of next connection attempts to refuse (counts down).
        refuse_status: HTTP status used to refuse them; None closes the TCP connection
            during the handshake instead.
    """

    drop_after_server_events: int | None = None
    drop_after_seconds: float | None = None
    errors_for: dict[str, InjectedError] = field(default_factory=dict)
    session_max_seconds: float | None = None
    latency_seconds: float = 0.0
    refuse_connections: int = 0
    refuse_status: int | None = 503
