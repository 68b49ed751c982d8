r"""Keeping the server conversation in step with the application's context.

A realtime session runs continuously: the server already holds every spoken turn, so
only a few things travel from the context to the server after the first context (the
*seed*): tool results, and messages the application added. The aggregators also
write transcripts of the spoken turns into the context; those are already on the
server, so they are recognised (by the text the session produced) and not sent twice.

The context arrives as a :class:`ContextSnapshot` of :class:`ContextMessage`\ s, a
neutral form the host makes of its own context (the Pipecat service of an
``LLMContext``), so these decisions need no framework.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipecat_realtime_openai.core.items import text_message_item
from pipecat_realtime_openai.protocol.items import ConversationItem

# How many spoken texts (user transcripts, assistant replies) are remembered to spot
# the context messages that only mirror the server conversation.
_REMEMBERED_TEXTS = 64
_WHITESPACE = re.compile(r"\s+")
_MESSAGE_ROLES = frozenset({"user", "assistant", "system", "developer"})


def _fingerprint(text: str) -> str:
    # Aggregators join streamed text with their own spacing; compare without it.
    return _WHITESPACE.sub("", text)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A final tool result written in the context.

    Attributes:
        call_id: The call it answers.
        output: The result text.
    """

    call_id: str
    output: str


@dataclass(frozen=True, slots=True)
class ContextMessage:
    """One message of the application's context, as the core needs it.

    Attributes:
        role: ``user``, ``assistant``, ``system``, ``developer``, ``tool``; None for a
            message the server never gets (one meant for another provider).
        text: Its plain text ("" when it has none).
        tool_result: The final tool result it carries, if any.
        tool_traffic: A tool call or a tool progress note: the server holds it already.
    """

    role: str | None
    text: str = ""
    tool_result: ToolResult | None = None
    tool_traffic: bool = False


@dataclass(frozen=True, slots=True)
class ContextSnapshot:
    """The application's context at one moment.

    Attributes:
        messages: Its messages, in order.
        seed: The items that start a server conversation from it (what Pipecat's
            adapter makes of the history).
    """

    messages: Sequence[ContextMessage] = ()
    seed: Sequence[ConversationItem] = ()


@dataclass
class ContextChanges:
    """What a context brings that the server does not have yet.

    Attributes:
        items: Messages the application added, as items to create.
        results: Tool results written into the context by something other than this
            session's own function-call runner.
        already_held: New context messages that only mirror what the server already
            holds (transcripts of spoken turns, replies, tool traffic).
    """

    items: list[ConversationItem] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    already_held: int = 0

    @property
    def brings_something(self) -> bool:
        """Whether the server lacks something this context carries."""
        return bool(self.items or self.results)


class ConversationSync:
    """Tracks which parts of the context the server conversation already holds."""

    def __init__(self) -> None:
        self._context: ContextSnapshot | None = None
        self._seeded = False
        self._synced_count = 0
        self._handled_calls: set[str] = set()
        self._spoken: deque[str] = deque(maxlen=_REMEMBERED_TEXTS)

    @property
    def context(self) -> ContextSnapshot | None:
        """The latest context received, if any."""
        return self._context

    @property
    def seeded(self) -> bool:
        """Whether the server conversation was seeded from the context on this connection."""
        return self._seeded

    @property
    def needs_seed(self) -> bool:
        """Whether there is a context and this connection's conversation lacks it."""
        return self._context is not None and not self._seeded

    def set_context(self, context: ContextSnapshot) -> bool:
        """Remember the latest context.

        Returns:
            True when this is the first context the session sees.
        """
        first = self._context is None
        self._context = context
        if first:
            # Results already in the first context were settled in an earlier life of
            # the conversation; the seed carries them, so they are never sent again.
            self._handled_calls |= {r.call_id for r in _results(context.messages)}
        return first

    def mark_seeded(self) -> None:
        """Record that the whole current context was sent as the seed."""
        self._seeded = True
        if self._context is not None:
            self._synced_count = len(self._context.messages)

    def join_running_conversation(self) -> None:
        """Follow a conversation that started before the first context arrived.

        Seeding would repeat what the server already holds (spoken turns, tool calls),
        so instead every message of the context is treated as new and filtered as
        usual: transcripts and tool traffic are recognised and skipped, anything else
        is sent. A leading system message becomes the session instructions instead.
        """
        self._seeded = True
        messages = self._context.messages if self._context is not None else ()
        leading_system = bool(messages) and messages[0].role == "system"
        self._synced_count = 1 if leading_system else 0

    def on_connection_reset(self) -> None:
        """A new conversation is empty: the next response seeds it again."""
        self._seeded = False
        self._synced_count = 0

    def remember_spoken(self, text: str) -> None:
        """Record text that reached the server as speech or a reply (transcripts)."""
        if text.strip():
            self._spoken.append(_fingerprint(text))

    def mark_call_handled(self, call_id: str) -> None:
        """Record that a call's result (or cancellation) was sent by the session itself."""
        self._handled_calls.add(call_id)

    def changes(self) -> ContextChanges:
        """Return what the context gained since the last sync, and mark it synced.

        Returns:
            Added messages to send as items and tool results to deliver. Empty before
            the seed: the seed will carry everything.
        """
        changes = ContextChanges()
        if self._context is None or not self._seeded:
            return changes
        messages = self._context.messages
        changes.results = [r for r in _results(messages) if r.call_id not in self._handled_calls]
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

    def _item_for_new_message(self, message: ContextMessage) -> ConversationItem | None:
        if message.role not in _MESSAGE_ROLES or message.tool_traffic or not message.text:
            return None  # tool results travel separately
        if message.role in ("user", "assistant"):
            fingerprint = _fingerprint(message.text)
            if fingerprint in self._spoken:
                # A transcript of speech the server already holds.
                self._spoken.remove(fingerprint)
                return None
        return text_message_item(message.text, message.role)


def _results(messages: Sequence[ContextMessage]) -> list[ToolResult]:
    return [m.tool_result for m in messages if m.tool_result is not None]
