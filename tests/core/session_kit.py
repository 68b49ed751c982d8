"""Building blocks for testing the core without a socket: events, a session, a clock.

A :class:`Kit` holds one :class:`RealtimeSession` and a fake clock (``now``, advanced by
the test); every input it forwards returns the session's actions unchanged, so tests
read decisions exactly as a host would get them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from loguru import logger

from pipecat_realtime_openai.core.actions import Action, Send
from pipecat_realtime_openai.core.phase import Phase
from pipecat_realtime_openai.core.session import RealtimeSession
from pipecat_realtime_openai.protocol.fast import AudioDelta
from pipecat_realtime_openai.protocol.parse import parse_server_event

MODEL = "gpt-realtime-2.1"
PCM_BYTES_PER_MS = 48  # 24 kHz 16-bit mono


def event(kind: str, **fields: Any) -> Any:
    """A parsed server event, as the receive loop hands it on."""
    return parse_server_event(json.dumps({"type": kind, "event_id": "event_s", **fields}))


def response(response_id: str, status: str = "in_progress", **fields: Any) -> dict[str, Any]:
    return {"id": response_id, "object": "realtime.response", "status": status, **fields}


def sent(actions: Iterable[Action], kind: str | None = None) -> list[Any]:
    """The client events among the actions (of one type, if given)."""
    events = [a.event for a in actions if isinstance(a, Send)]
    return [e for e in events if kind is None or e.type == kind]


def kinds(actions: Iterable[Action]) -> list[str]:
    """Action type names, with the event type of each Send."""
    return [f"Send:{a.event.type}" if isinstance(a, Send) else type(a).__name__ for a in actions]


class Kit:
    """A session under test and its clock.

    Args:
        session: The wanted session wire dict (a plain realtime session by default).
        **options: Constructor options of ``RealtimeSession``.
    """

    def __init__(
        self, session: dict[str, Any] | None = None, model: str = MODEL, **options: Any
    ) -> None:
        self.now = 0.0
        self.session = RealtimeSession(
            session if session is not None else {"type": "realtime"},
            model=model,
            name="test",
            **options,
        )

    def event(self, kind: str, **fields: Any) -> list[Action]:
        return self.session.server_event(event(kind, **fields), self.now)

    def connect(self) -> list[Action]:
        """Open a connection and configure it; return the actions of the confirmation."""
        self.session.start()
        assert self.session.connection_opened(self.now) == []
        created = self.event("session.created", session={"type": "realtime", "id": "sess_1"})
        assert sent(created, "session.update"), "the session is configured on session.created"
        actions = self.event("session.updated", session={"type": "realtime"})
        assert self.session.phase is Phase.READY
        return actions

    def audio(self, response_id: str, item_id: str, ms: int) -> Any:
        """Assistant audio of ``ms`` milliseconds for one item (the output hot path)."""
        pcm = bytes(ms * PCM_BYTES_PER_MS)
        delta = AudioDelta(response_id, item_id, 0, 0, base64.b64encode(pcm).decode("ascii"))
        return self.session.audio_out(delta, pcm, self.now)

    def start_response(self, response_id: str) -> list[Action]:
        return self.event("response.created", response=response(response_id))

    def finish_response(self, response_id: str, **fields: Any) -> list[Action]:
        done = response(response_id, "completed", **fields)
        return self.event("response.done", response=done)

    def function_call(self, response_id: str, call_id: str, name: str = "lookup") -> list[Action]:
        item = {"id": f"item_{call_id}", "type": "function_call", "call_id": call_id, "name": name}
        added = self.event(
            "response.output_item.added", response_id=response_id, output_index=0, item=item
        )
        done = self.event(
            "response.function_call_arguments.done",
            response_id=response_id,
            item_id=item["id"],
            output_index=0,
            call_id=call_id,
            name=name,
            arguments='{"q": 1}',
        )
        return added + done

    def error(self, code: str, event_id: str | None = None, kind: str = "invalid_request_error"):
        error = {"type": kind, "code": code, "message": f"{code} happened", "event_id": event_id}
        return self.event("error", error=error)


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every log line (DEBUG and up) while the test runs."""
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG")
    yield lines
    logger.remove(sink)
