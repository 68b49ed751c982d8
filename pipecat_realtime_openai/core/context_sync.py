r"""Keeping the server conversation in step with the application's context, both ways.

The application's context (Pipecat's ``LLMContext``) and the server's item list are two
copies of one conversation. This module keeps one *entry* per context message, holding
the ids of the server items that stand for it, and turns every change of the context
into the few item changes that make the server match:

* **seeding**: the first context becomes items in order (or, optionally, the one
  packed history item Pipecat's adapter makes);
* **appended messages** become items at the end; ones the server already holds are
  recognised and *attached* instead of sent again: the transcript of a spoken turn or a
  reply (by their text), a tool call and its result (by call id);
* **removed messages** delete their items; **edited** ones are deleted and created
  again in place (``previous_item_id``); a **replaced** context (nothing in common
  with the last one) also deletes the server items no entry held, so the server keeps
  only what the new context says.

The context arrives as a :class:`ContextSnapshot` of :class:`ContextMessage`\ s, a
neutral form the host makes of its own context, so these decisions need no framework.
The diff is a sequence match of messages (``difflib``), so an edit costs one delete and
one create, not a rebuild.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipecat_realtime_openai.core.conversation import ConversationMirror, heard_transcript
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
class ToolCall:
    """A function call the assistant made, as the context records it.

    Attributes:
        call_id: The call id.
        name: The function name.
        arguments: Its arguments as JSON text.
    """

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ContextMessage:
    """One message of the application's context, as the core needs it.

    Two messages with equal fields are the same message to the diff.

    Attributes:
        role: ``user``, ``assistant``, ``system``, ``developer``, ``tool``; None for a
            message the server never gets (one meant for another provider).
        text: Its plain text ("" when it has none).
        tool_result: The final tool result it carries, if any.
        tool_traffic: A tool call or a tool progress note: while the session runs, the
            server holds it already (seeding a history sends it).
        images: Images of a user message, as (URL, detail).
        tool_calls: The function calls of an assistant message.
    """

    role: str | None
    text: str = ""
    tool_result: ToolResult | None = None
    tool_traffic: bool = False
    images: tuple[tuple[str, str | None], ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class ContextSnapshot:
    """The application's context at one moment.

    Attributes:
        messages: Its messages, in order.
        seed: The one packed history item Pipecat's adapter makes of it, for the
            ``packed`` seeding mode.
    """

    messages: Sequence[ContextMessage] = ()
    seed: Sequence[ConversationItem] = ()


@dataclass(frozen=True, slots=True)
class ContextEdit:
    """A change the application's context needs to say what really happened.

    Applied in order; each names the message by its index at that moment and by the
    text it is expected to hold there (a host skips an edit whose message moved).

    Attributes:
        kind: ``move`` (to ``to_index``: a user turn transcribed after the reply it
            caused goes before it), ``text`` (the reply as far as the user heard it)
            or ``remove`` (a reply the user heard none of).
        index: The message's index.
        expected: The text the message holds now.
        to_index: Where a ``move`` puts it.
        text: The new text of a ``text`` edit.
    """

    kind: str
    index: int
    expected: str
    to_index: int = 0
    text: str = ""


@dataclass
class ContextChanges:
    """What a context brings that the server does not have yet, and what it dropped.

    Attributes:
        creates: Items to create, each with the ``previous_item_id`` to insert it after
            (None appends at the end, ``"root"`` inserts at the start).
        deletes: Ids of the items to delete.
        results: Tool results written into the context by something other than this
            session's own function-call runner (delivered as the call's output).
        already_held: New messages that only mirror what the server already holds
            (transcripts of spoken turns, replies, tool traffic).
        edits: Changes the context needs to match what really happened (see
            :class:`ContextEdit`).
    """

    creates: list[tuple[ConversationItem, str | None]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    already_held: int = 0
    edits: list[ContextEdit] = field(default_factory=list)

    @property
    def items(self) -> list[ConversationItem]:
        """The items to create."""
        return [item for item, _ in self.creates]

    @property
    def brings_something(self) -> bool:
        """Whether the server lacks something this context carries."""
        return bool(self.creates or self.results)


@dataclass(slots=True)
class _Entry:
    message: ContextMessage
    item_ids: list[str] = field(default_factory=list)


MakeItems = Callable[[ContextMessage], list[ConversationItem]]


class ConversationSync:
    """One entry per context message, with the server items that stand for it.

    Args:
        make_items: Turns a message into the items that carry it (with ids).
    """

    def __init__(self, make_items: MakeItems) -> None:
        self._make_items = make_items
        self._context: ContextSnapshot | None = None
        self._seeded = False
        self._entries: list[_Entry] = []
        self._handled_calls: set[str] = set()
        # Texts that reached the server as speech or a reply, and their items.
        self._spoken: deque[tuple[str, tuple[str, ...]]] = deque(maxlen=_REMEMBERED_TEXTS)
        # The whole text of each recent reply, by item: what a cut-off reply is cut from.
        self._texts: dict[str, str] = {}

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
        """Remember the latest context (its changes are taken by :meth:`changes`).

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

    def seed(self, *, packed: bool) -> list[ConversationItem]:
        """The items that start the server conversation from the whole context.

        Args:
            packed: Send Pipecat's one packed history item instead of one item per
                message (each entry then stands for that one item).

        Returns:
            The items to create, in order.
        """
        messages = self._context.messages if self._context is not None else ()
        self._seeded = True
        if packed:
            seed = list(self._context.seed) if self._context is not None else []
            ids = [item.id for item in seed if item.id]
            self._entries = [_Entry(m, list(ids)) for m in messages]
            return seed
        items: list[ConversationItem] = []
        self._entries = []
        for index, message in enumerate(messages):
            if index == 0 and message.role == "system":
                # A leading system message is the session's instructions.
                self._entries.append(_Entry(message))
                continue
            made = self._make_items(message)
            items += made
            self._entries.append(_Entry(message, [item.id for item in made if item.id]))
        return items

    def join_running_conversation(self, mirror: ConversationMirror) -> ContextChanges:
        """Follow a conversation that started before the first context arrived.

        Seeding would repeat what the server already holds (spoken turns, tool calls),
        so every message of the context is taken as new: what the server holds is
        recognised and attached, anything else is sent. A leading system message is
        the session's instructions.
        """
        self._seeded = True
        messages = list(self._context.messages) if self._context is not None else []
        self._entries = []
        if messages and messages[0].role == "system":
            self._entries.append(_Entry(messages[0]))
        return self._diff(self._entries[:], messages, mirror)

    def on_connection_reset(self) -> None:
        """A new conversation is empty: the next response seeds it again."""
        self._seeded = False
        self._entries = []

    def remember_spoken(self, text: str, item_ids: Sequence[str] = ()) -> None:
        """Record text that reached the server as speech or a reply (transcripts).

        Args:
            text: A user transcript or the full text of an assistant reply.
            item_ids: The server items it is the text of.
        """
        if text.strip():
            self._spoken.append((_fingerprint(text), tuple(item_ids)))
            for item_id in item_ids:
                self._texts[item_id] = text
            while len(self._texts) > _REMEMBERED_TEXTS:
                del self._texts[next(iter(self._texts))]

    def mark_call_handled(self, call_id: str) -> None:
        """Record that a call's result (or cancellation) was sent by the session itself."""
        self._handled_calls.add(call_id)

    def forget_item(self, item_id: str) -> None:
        """An item is gone from the server (deleted, or its creation was refused)."""
        for entry in self._entries:
            if item_id in entry.item_ids:
                entry.item_ids.remove(item_id)

    def changes(self, mirror: ConversationMirror) -> ContextChanges:
        """What the server must do to match the latest context; the entries follow it.

        Args:
            mirror: The server conversation (what it holds, for attaching and resets).

        Returns:
            Nothing before the seed (the seed will carry everything).
        """
        if self._context is None or not self._seeded:
            return ContextChanges()
        return self._diff(self._entries, list(self._context.messages), mirror)

    def _diff(
        self, old: list[_Entry], messages: list[ContextMessage], mirror: ConversationMirror
    ) -> ContextChanges:
        changes = ContextChanges()
        changes.results = [r for r in _results(messages) if r.call_id not in self._handled_calls]
        self._handled_calls |= {r.call_id for r in changes.results}
        matcher = difflib.SequenceMatcher(
            a=[entry.message for entry in old], b=messages, autojunk=False
        )
        opcodes = matcher.get_opcodes()
        replaced = bool(old) and not any(tag == "equal" for tag, *_ in opcodes)
        new: list[_Entry | None] = [None] * len(messages)
        attached: list[_Entry] = []
        for tag, i1, i2, j1, _j2 in opcodes:
            if tag == "equal":
                for offset in range(i2 - i1):
                    new[j1 + offset] = old[i1 + offset]
                continue
            for entry in old[i1:i2]:  # removed or edited
                changes.deletes += [i for i in entry.item_ids if i not in changes.deletes]
        kept = {i for entry in new if entry is not None for i in entry.item_ids}
        for index, message in enumerate(messages):
            if new[index] is not None:
                continue
            held = self._held(message, mirror)
            if held is not None:
                changes.already_held += 1
                entry = _Entry(message, [i for i in held if i not in changes.deletes])
                new[index] = entry
                attached.append(entry)
                kept |= set(held)
                continue
            entry = _Entry(message)
            new[index] = entry
            if message.tool_result is not None or message.role not in _MESSAGE_ROLES:
                continue  # results travel as their call's output; others never go
            previous = self._previous_item_id(new, index)
            for item in self._make_items(message):
                changes.creates.append((item, previous))
                if item.id:
                    entry.item_ids.append(item.id)
                    previous = item.id
        for found in new:
            if (
                found is not None
                and not found.item_ids
                and (found.message.tool_result is not None or found.message.tool_calls)
            ):
                # A tool message whose items came after it (the output the session
                # delivered, a call announced later): attach them now.
                found.item_ids = [i for i in self._held(found.message, mirror) or [] if i]
                kept |= set(found.item_ids)
        if replaced:
            # A new context: what the server holds beyond it goes too, except the MCP
            # tool listings, which belong to the session's tools, not to the dialogue.
            changes.deletes += [
                i
                for i in mirror.finished_ids()
                if i not in kept and i not in changes.deletes and not _is_listing(mirror, i)
            ]
        changes.deletes = [i for i in changes.deletes if i not in kept]
        entries = [entry for entry in new if entry is not None]
        changes.edits = _repairs(entries, attached, mirror, self._texts)
        self._entries = entries
        return changes

    def _held(self, message: ContextMessage, mirror: ConversationMirror) -> list[str] | None:
        """The server items a new message only mirrors, or None when it is news."""
        if message.tool_result is not None:
            found = mirror.item_for_call(message.tool_result.call_id, "function_call_output")
            return [found] if found else []
        if message.tool_calls:
            ids = [mirror.item_for_call(c.call_id, "function_call") for c in message.tool_calls]
            return [i for i in ids if i]
        if message.tool_traffic or message.role is None:
            return []
        if message.role in ("user", "assistant") and message.text:
            fingerprint = _fingerprint(message.text)
            for spoken in self._spoken:
                if spoken[0] == fingerprint:
                    # A transcript of speech the server already holds.
                    self._spoken.remove(spoken)
                    return list(spoken[1])
            if message.role == "assistant":
                # A reply cut off by the user: the output transport lets through only
                # the text that was played, so the context holds its beginning.
                for spoken in reversed(self._spoken):
                    if spoken[0].startswith(fingerprint):
                        self._spoken.remove(spoken)
                        return list(spoken[1])
        return None

    @staticmethod
    def _previous_item_id(entries: list[_Entry | None], index: int) -> str | None:
        later = any(e is not None and e.item_ids for e in entries[index + 1 :])
        if not later:
            return None  # an append: after everything the server holds
        for entry in reversed(entries[:index]):
            if entry is not None and entry.item_ids:
                return entry.item_ids[-1]
        return "root"


def _repairs(
    entries: list[_Entry],
    attached: list[_Entry],
    mirror: ConversationMirror,
    texts: dict[str, str],
) -> list[ContextEdit]:
    """Edits that make the context say what really happened; the entries follow them.

    Only messages attached in this change are looked at: a user turn written after the
    reply it caused moves before that reply (the server holds it there), and a reply
    the user cut off keeps only what was heard of it.
    """
    edits: list[ContextEdit] = []
    for entry in attached:
        if entry.message.role != "user" or not entry.item_ids:
            continue
        spoken_at = mirror.position(entry.item_ids[0])
        index = entries.index(entry)
        target = None
        for earlier in range(index - 1, -1, -1):
            other = entries[earlier]
            if other.message.role != "assistant" or not other.item_ids:
                break
            reply_at = mirror.position(other.item_ids[0])
            if spoken_at is None or reply_at is None or reply_at < spoken_at:
                break
            target = earlier
        if target is not None:
            edits.append(ContextEdit("move", index, entry.message.text, to_index=target))
            entries.insert(target, entries.pop(index))
    for entry in attached:
        message = entry.message
        cut = [i for i in entry.item_ids if mirror.heard_share(i) is not None]
        if message.role != "assistant" or not cut or not message.text:
            continue
        share = mirror.heard_share(cut[0]) or 0.0
        heard = heard_transcript(texts.get(cut[0], message.text), share)
        if len(_fingerprint(message.text)) <= len(_fingerprint(heard)):
            continue  # it holds no more than was heard (the transport cut it already)
        index = entries.index(entry)
        if heard:
            edits.append(ContextEdit("text", index, message.text, text=heard))
            entry.message = dataclasses.replace(message, text=heard)
        else:
            edits.append(ContextEdit("remove", index, message.text))
            entries.pop(index)
    return edits


def _is_listing(mirror: ConversationMirror, item_id: str) -> bool:
    found = mirror.get(item_id)
    return found is not None and found.item.get("type") == "mcp_list_tools"


def _results(messages: Sequence[ContextMessage]) -> list[ToolResult]:
    return [m.tool_result for m in messages if m.tool_result is not None]
