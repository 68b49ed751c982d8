"""What every simulator dialect shares.

The paths, the per-connection hooks, the state kept across connections, and OpenAI's
own dialect (the hooks doing nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipecat_realtime_openai.testing.server_events import error_event

Event = dict[str, Any]

DIALECTS = ("openai", "azure", "azure-preview", "voice-live", "xai")
"""Every dialect the simulator speaks."""

PATHS = {
    "openai": "/v1/realtime",
    "azure": "/openai/v1/realtime",
    "azure-preview": "/openai/realtime",
    "voice-live": "/voice-live/realtime",
    "xai": "/v1/realtime",
}
"""The WebSocket path of each dialect."""


def unknown_parameter(name: str, data: Mapping[str, Any]) -> Event:
    """The ``error`` a server sends for a session or event field it does not know."""
    return error_event(
        "unknown_parameter",
        f"Unknown parameter: '{name}'.",
        param=name,
        client_event_id=data.get("event_id"),
    )


class SimDialect:
    """OpenAI's own dialect; the others override what they change.

    One instance per connection (some dialects remember what the client asked for).

    Args:
        server: What the dialect keeps across connections (Azure deployments, xAI's
            kept conversations), see :class:`DialectServerState`.
        query: The connection URL's query parameters.
    """

    name = "openai"
    azure_auth = False
    """Authenticate with ``api-key`` or an Entra bearer token (else an OpenAI key)."""

    def __init__(self, server: DialectServerState, query: Mapping[str, list[str]]) -> None:
        self.server = server
        self.query = query

    def model(self, default: str) -> str:
        """The model the connection URL names."""
        return (self.query.get("model") or [default])[0]

    def client_in(self, data: Any) -> tuple[Any, list[Event]]:
        """Turn a client event into GA, or refuse it.

        Returns:
            ``(ga_event, [])``, or ``(None, events to send instead)``.
        """
        return data, []

    def server_out(self, event: Event) -> list[Event]:
        """Render one GA server event in the dialect (none, one or several)."""
        return [event]

    def opening(self, events: list[Event], state: Any) -> list[Event]:
        """The events a new connection starts with."""
        return [out for event in events for out in self.server_out(event)]

    def after_client(self, data: Any, state: Any) -> list[Event]:
        """Apply what the dialect changes after the state machine took an event."""
        return []

    def on_closed(self, state: Any) -> None:
        """The connection ended (xAI keeps the conversation for resumption)."""


class DialectServerState:
    """What a simulator keeps across connections for its dialect.

    Attributes:
        deployments: Azure deployment names the transcription model may name.
        conversations: xAI conversations kept for resumption, by id.
    """

    def __init__(self, deployments: tuple[str, ...] = ()) -> None:
        self.deployments = deployments
        self.conversations: dict[str, list[dict[str, Any]]] = {}
