"""Builders for server event dicts (plain dicts: cheap enough for the audio path)."""

from __future__ import annotations

from typing import Any

from pipecat_realtime_openai.testing.ids import new_id

Event = dict[str, Any]


def make_event(event_type: str, **fields: Any) -> Event:
    """Build a server event dict with a fresh ``event_...`` id."""
    return {"type": event_type, "event_id": new_id("event"), **fields}


def error_event(
    code: str | None,
    message: str,
    *,
    param: str | None = None,
    client_event_id: str | None = None,
    error_type: str = "invalid_request_error",
) -> Event:
    """Build an ``error`` server event.

    Args:
        code: Error code (e.g. ``response_cancel_not_active``).
        message: Human-readable message.
        param: Offending parameter, if any.
        client_event_id: ``event_id`` of the client event that caused it.
        error_type: Error type (``invalid_request_error`` for client mistakes).
    """
    error = {
        "type": error_type,
        "code": code,
        "message": message,
        "param": param,
        "event_id": client_event_id,
    }
    return make_event("error", error=error)
