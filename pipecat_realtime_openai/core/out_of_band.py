"""Out-of-band responses: one-shot answers that stay out of the conversation.

A ``response.create`` with ``conversation: "none"`` and its own ``input`` answers on
the side (a summary, a classification) without adding anything to the conversation or
touching the bot's turn. :class:`OutOfBandRequests` tags each request in its
``metadata``, so its ``response.*`` events are told from the conversation's; it runs one
at a time, while no conversation response runs (the server refuses a second active
response), and collects each one's text until its ``response.done``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pipecat_realtime_openai.protocol.client_events import ResponseCreateEvent, ResponseProperties
from pipecat_realtime_openai.protocol.items import ConversationItem

TAG = "pipecat_realtime_openai_request"
"""Metadata key that marks a response as one of ours."""

EVENT_PREFIX = "oob_"
"""Event id prefix of out-of-band ``response.create`` events."""


@dataclass(slots=True)
class _Running:
    request_id: str
    properties: ResponseProperties
    response_id: str | None = None
    text: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OutOfBandOutcome:
    """How an out-of-band request ended.

    Attributes:
        request_id: The request.
        text: The response's text ("" when it failed).
        error: Why it failed, or None.
    """

    request_id: str
    text: str
    error: str | None = None


class OutOfBandRequests:
    """Out-of-band requests: waiting, running (one), and their text."""

    def __init__(self) -> None:
        self._waiting: deque[tuple[str, ResponseProperties]] = deque()
        self._running: _Running | None = None

    def ask(
        self,
        request_id: str,
        items: list[ConversationItem],
        *,
        instructions: str | None,
        max_output_tokens: int | None,
    ) -> None:
        """Queue a request; :meth:`next_event` sends it when the server is free."""
        properties = ResponseProperties(
            conversation="none",
            output_modalities=["text"],
            input=items,
            instructions=instructions,
            metadata={TAG: request_id},
            tool_choice="none",
        )
        if max_output_tokens is not None:
            properties.max_output_tokens = max_output_tokens
        self._waiting.append((request_id, properties))

    def next_event(self, conversation_busy: bool) -> ResponseCreateEvent | None:
        """The request to send now, if one waits and nothing runs."""
        if self._running is not None or conversation_busy or not self._waiting:
            return None
        request_id, properties = self._waiting.popleft()
        self._running = _Running(request_id, properties)
        return ResponseCreateEvent(response=properties, event_id=EVENT_PREFIX + request_id)

    def owns(self, response: Any) -> bool:
        """Whether a ``response.created`` is the running request's (by its metadata)."""
        running = self._running
        metadata = getattr(response, "metadata", None) or {}
        if running is None or metadata.get(TAG) != running.request_id:
            return False
        running.response_id = getattr(response, "id", None)
        return True

    def is_running(self, response_id: str) -> bool:
        """Whether ``response_id`` is the running request's response."""
        return self._running is not None and self._running.response_id == response_id

    def on_text(self, response_id: str, text: str) -> bool:
        """Text of a response: kept when it is the running request's."""
        if not self.is_running(response_id):
            return False
        assert self._running is not None
        self._running.text.append(text)
        return True

    def on_done(self, response_id: str, status: str | None) -> OutOfBandOutcome | None:
        """``response.done``: the outcome, when it was the running request's."""
        running = self._running
        if running is None or running.response_id != response_id:
            return None
        self._running = None
        text = "".join(running.text)
        if status == "completed":
            return OutOfBandOutcome(running.request_id, text)
        return OutOfBandOutcome(running.request_id, text, f"the response ended {status}")

    def on_refused(
        self, event_id: str | None, already_active: bool, message: str
    ) -> OutOfBandOutcome | None:
        """An ``error`` named a request of ours: retry it later, or give up on it."""
        running = self._running
        if running is None or event_id != EVENT_PREFIX + running.request_id:
            return None
        self._running = None
        if already_active:
            # Sent again, first in line, once the server is free.
            self._waiting.appendleft((running.request_id, running.properties))
            return None
        return OutOfBandOutcome(running.request_id, "", message)

    def fail_all(self, message: str) -> list[OutOfBandOutcome]:
        """The connection closed: every request ends."""
        ended = [OutOfBandOutcome(request_id, "", message) for request_id, _ in self._waiting]
        if self._running is not None:
            ended.insert(0, OutOfBandOutcome(self._running.request_id, "", message))
        self._waiting.clear()
        self._running = None
        return ended
