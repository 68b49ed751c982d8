"""Keeping the server conversation in step with Pipecat's ``LLMContext``.

A realtime session runs continuously: the server already holds every spoken turn, so
only a few things travel from the context to the server after the first context
frame (the *seed*): tool results, and messages the application appended. The
aggregators also write transcripts of the spoken turns into the context; those are
already on the server, so they are recognised (by the text this service emitted) and
not sent twice.

This module decides; the service sends.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipecat.processors.aggregators import async_tool_messages
from pipecat.processors.aggregators.llm_context import (
    LLMContext,
    LLMSpecificMessage,
    standard_message_text,
)

from pipecat_realtime_openai.protocol.items import ConversationItem, ItemContent

# Marker the assistant aggregator writes for a tool call that has not returned yet.
IN_PROGRESS_RESULT = "IN_PROGRESS"
# How many spoken texts (user transcripts, assistant replies) are remembered to spot
# the context messages that only mirror the server conversation.
_REMEMBERED_TEXTS = 64
_WHITESPACE = re.compile(r"\s+")


def _fingerprint(text: str) -> str:
    # Aggregators join streamed text with their own spacing; compare without it.
    return _WHITESPACE.sub("", text)


def to_protocol_item(item: Any) -> ConversationItem:
    """Convert a conversation item made by Pipecat's adapter into the protocol model.

    Args:
        item: A Pipecat ``events.ConversationItem`` (or a wire dict).

    Returns:
        The same item as :class:`ConversationItem`.
    """
    if isinstance(item, ConversationItem):
        return item
    data = item if isinstance(item, dict) else item.model_dump(exclude_none=True)
    return ConversationItem.model_validate(data)


def text_message_item(text: str, role: str) -> ConversationItem:
    """Build a message item carrying text for the given role.

    Args:
        text: The text.
        role: ``user``, ``assistant`` or ``system`` (``developer`` counts as system).

    Returns:
        The item; assistant text is ``output_text``, everything else ``input_text``.
    """
    if role == "assistant":
        return ConversationItem(
            type="message", role="assistant", content=[ItemContent(type="output_text", text=text)]
        )
    wire_role = "user" if role == "user" else "system"
    return ConversationItem(
        type="message", role=wire_role, content=[ItemContent(type="input_text", text=text)]
    )


def function_output_item(call_id: str, output: str) -> ConversationItem:
    """Build the ``function_call_output`` item answering a call.

    Args:
        call_id: The server's call id.
        output: The result as a string.

    Returns:
        The item.
    """
    return ConversationItem(type="function_call_output", call_id=call_id, output=output)


def encode_result(result: Any) -> str:
    """Encode a tool result as the string the API expects.

    Args:
        result: What the tool handler reported.

    Returns:
        Strings are kept, other values JSON-encoded; an empty result reads ``COMPLETED``.
    """
    if result is None or result == "":
        return "COMPLETED"
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool result found in the context that the server has not received.

    Attributes:
        call_id: The call it answers.
        output: The result text.
    """

    call_id: str
    output: str


@dataclass
class ContextChanges:
    """What a context frame brings that the server does not have yet.

    Attributes:
        items: Messages the application added, as items to create.
        results: Tool results written into the context by something other than this
            service's own function-call runner.
        already_held: New context messages that only mirror what the server already
            holds (transcripts of spoken turns, replies, tool traffic).
    """

    items: list[ConversationItem] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    already_held: int = 0

    @property
    def brings_something(self) -> bool:
        """Whether the server lacks something this context frame carries."""
        return bool(self.items or self.results)


def downstream_context_wants_response(changes: ContextChanges, response_running: bool) -> bool:
    """Decide whether a context frame travelling downstream asks for a response.

    The user aggregator pushes one to run the model. In realtime mode it also pushes
    one after writing the transcript of a spoken turn, which the server answered by
    itself (server VAD): asking again would answer that turn twice.

    Args:
        changes: What the frame brought (from :meth:`ConversationSync.changes`).
        response_running: A response is in progress.

    Returns:
        True when something new reached the server, or when the frame added no
        message at all (an explicit "run the model now") and nothing is running.
    """
    if changes.brings_something:
        return True
    if changes.already_held:
        return False
    return not response_running


class ConversationSync:
    """Tracks which parts of the context the server conversation already holds."""

    def __init__(self) -> None:
        self._context: LLMContext | None = None
        self._seeded = False
        self._synced_count = 0
        self._handled_calls: set[str] = set()
        self._spoken: deque[str] = deque(maxlen=_REMEMBERED_TEXTS)

    @property
    def context(self) -> LLMContext | None:
        """The latest context received, if any."""
        return self._context

    @property
    def seeded(self) -> bool:
        """Whether the server conversation was seeded from the context on this connection."""
        return self._seeded

    def set_context(self, context: LLMContext) -> bool:
        """Remember the latest context.

        Args:
            context: The context of an ``LLMContextFrame``.

        Returns:
            True when this is the first context the service sees.
        """
        first = self._context is None
        self._context = context
        if first:
            # Results already in the first context were settled in an earlier life of
            # the conversation; the seed carries them, so they are never sent again.
            self._handled_calls |= {r.call_id for r in self._scan_results(context.get_messages())}
        return first

    def mark_seeded(self) -> None:
        """Record that the whole current context was sent as the seed."""
        self._seeded = True
        if self._context is not None:
            self._synced_count = len(self._context.get_messages())

    def join_running_conversation(self) -> None:
        """Follow a conversation that started before the first context arrived.

        Seeding would repeat what the server already holds (spoken turns, tool calls),
        so instead every message of the context is treated as new and filtered as
        usual: transcripts and tool traffic are recognised and skipped, anything else
        is sent. A leading system message becomes the session instructions instead.
        """
        self._seeded = True
        messages = self._context.get_messages() if self._context is not None else []
        first = messages[0] if messages else None
        leading_system = isinstance(first, dict) and first.get("role") == "system"
        self._synced_count = 1 if leading_system else 0

    def on_connection_reset(self) -> None:
        """A new connection has an empty conversation: the next response seeds it again."""
        self._seeded = False
        self._synced_count = 0

    def remember_spoken(self, text: str) -> None:
        """Record text that reached the server as speech or a reply (transcripts).

        Args:
            text: A user transcript or the full text of an assistant reply.
        """
        if text.strip():
            self._spoken.append(_fingerprint(text))

    def mark_call_handled(self, call_id: str) -> None:
        """Record that a call's result (or cancellation) was sent by the service itself."""
        self._handled_calls.add(call_id)

    def changes(self) -> ContextChanges:
        """Return what the context gained since the last sync, and mark it synced.

        Returns:
            Appended messages to send as items and tool results to deliver. Empty
            before the seed: the seed will carry everything.
        """
        changes = ContextChanges()
        if self._context is None or not self._seeded:
            return changes
        messages = self._context.get_messages()
        changes.results = [
            r for r in self._scan_results(messages) if r.call_id not in self._handled_calls
        ]
        self._handled_calls |= {r.call_id for r in changes.results}
        if len(messages) < self._synced_count:
            # The application replaced the context; the server conversation cannot be
            # rewritten in place, so only messages from now on are followed.
            self._synced_count = len(messages)
        for message in messages[self._synced_count :]:
            item = self._item_for_new_message(message)
            if item is not None:
                changes.items.append(item)
            else:
                changes.already_held += 1
        self._synced_count = len(messages)
        return changes

    def _item_for_new_message(self, message: Any) -> ConversationItem | None:
        if isinstance(message, LLMSpecificMessage) or not isinstance(message, dict):
            return None
        role = message.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            return None  # tool results travel separately
        if message.get("tool_calls") or async_tool_messages.parse_message(message):
            return None
        text = standard_message_text(message)
        if not text:
            return None
        if role in ("user", "assistant"):
            fingerprint = _fingerprint(text)
            if fingerprint in self._spoken:
                # A transcript of speech the server already holds.
                self._spoken.remove(fingerprint)
                return None
        return text_message_item(text, role)

    @staticmethod
    def _scan_results(messages: Sequence[Any]) -> list[ToolResult]:
        results: list[ToolResult] = []
        for message in messages:
            if isinstance(message, LLMSpecificMessage) or not isinstance(message, dict):
                continue
            payload = async_tool_messages.parse_message(message)
            if payload is not None:
                if payload.kind == "final":
                    results.append(ToolResult(payload.tool_call_id, encode_result(payload.result)))
                continue
            call_id = message.get("tool_call_id")
            content = message.get("content")
            if message.get("role") == "tool" and call_id and content != IN_PROGRESS_RESULT:
                results.append(ToolResult(call_id, encode_result(content)))
        return results


class ItemRetrievals:
    """Callers waiting for ``conversation.item.retrieve`` answers, by item id."""

    _PREFIX = "rci_"

    def __init__(self) -> None:
        self._waiting: dict[str, list[asyncio.Future[ConversationItem]]] = {}

    def event_id(self, item_id: str) -> str:
        """Return the client event id that ties an error back to the item."""
        return self._PREFIX + item_id

    def wait_for(
        self, item_id: str, loop: asyncio.AbstractEventLoop
    ) -> tuple[asyncio.Future[ConversationItem], bool]:
        """Register a waiter.

        Returns:
            The future to await, and whether a retrieve must be sent (no other
            retrieval of the item is in flight).
        """
        future: asyncio.Future[ConversationItem] = loop.create_future()
        waiters = self._waiting.setdefault(item_id, [])
        waiters.append(future)
        return future, len(waiters) == 1

    def resolve(self, item_id: str, item: ConversationItem) -> None:
        """Answer every waiter of an item."""
        for future in self._waiting.pop(item_id, []):
            if not future.done():
                future.set_result(item)

    def fail_by_event(self, event_id: str | None, message: str) -> bool:
        """Fail the waiters of the retrieve that caused an error; True if there were any."""
        if not event_id or not event_id.startswith(self._PREFIX):
            return False
        waiters = self._waiting.pop(event_id[len(self._PREFIX) :], [])
        for future in waiters:
            if not future.done():
                future.set_exception(RuntimeError(message))
        return bool(waiters)

    def fail_all(self, message: str) -> None:
        """Fail every waiter (the connection closed)."""
        waiting, self._waiting = self._waiting, {}
        for waiters in waiting.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(RuntimeError(message))
