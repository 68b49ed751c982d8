"""Items going to the server conversation: seeding, changes, queuing, restoring, acks.

:class:`ServerConversation` owns what the client knows of the server conversation: the
:class:`~pipecat_realtime_openai.core.conversation.ConversationMirror` (what the server
holds, from its events), the :class:`~pipecat_realtime_openai.core.context_sync.ConversationSync`
(which server items stand for each context message), and the changes waiting to go
out. Changes wait while the session is not configured, while the conversation of a
lost connection is not rebuilt yet, and while a context waits to be seeded: an item
must follow the history it answers.

Every item the client creates gets an id of the client's (the API allows it), so a
later change can delete it, or insert after it, without waiting for the server's
answer. The server's answers are still awaited, to tell what it refused: a refused
change is logged and forgotten (the mirror, which follows only the server's events,
stays true), and one still unconfirmed :data:`ACK_TIMEOUT_S` after it was first seen
waiting is logged as lost.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger

from pipecat_realtime_openai.core.context_items import items_for
from pipecat_realtime_openai.core.context_sync import ContextChanges, ConversationSync
from pipecat_realtime_openai.core.conversation import ConversationMirror
from pipecat_realtime_openai.core.restore import restore_events
from pipecat_realtime_openai.protocol.client_events import (
    ClientEvent,
    ConversationItemCreateEvent,
    ConversationItemDeleteEvent,
)
from pipecat_realtime_openai.protocol.items import ConversationItem

ACK_TIMEOUT_S = 5.0
"""How long a change may wait for the server's answer before it is logged as lost."""

NewEventId = Callable[[str], str]
"""Makes the next client event id from a prefix."""


@dataclass(slots=True)
class _Pending:
    kind: str  # "create" or "delete"
    item_id: str
    seen_at: float | None = None


class ServerConversation:
    """The client's side of the server conversation.

    Attributes:
        sync: Which server items stand for each context message.
        mirror: The server conversation as its events describe it.

    Args:
        new_event_id: Makes client event ids.
        name: Prefix of log lines.
    """

    def __init__(self, new_event_id: NewEventId, name: str = "RealtimeSession") -> None:
        self._new_event_id = new_event_id
        self._name = name
        # Ids of the items the client creates: unique across connections and sessions.
        self._item_prefix = f"item_c{secrets.token_hex(4)}_"
        self._item_numbers = itertools.count(1)
        self.sync = ConversationSync(lambda message: items_for(message, self.new_item_id))
        self.mirror = ConversationMirror()
        # Changes waiting to go out: ("create", item, previous_item_id) / ("delete", id).
        self._queued: list[tuple[str, ConversationItem | str, str | None]] = []
        self._pending: dict[str, _Pending] = {}
        # The next connection must rebuild the conversation from the mirror first.
        self._restore_pending = False
        # What to create again after the server resumed the conversation (xAI).
        self._resumed_plan: list[dict[str, Any]] | None = None
        # Ids of restored items whose server echo is not news for the application.
        self._restored_ids: set[str] = set()

    def new_item_id(self) -> str:
        """The id of the next item the client creates (at most 32 characters)."""
        return f"{self._item_prefix}{next(self._item_numbers)}"

    @property
    def restore_pending(self) -> bool:
        """Whether the conversation of a lost connection waits to be rebuilt."""
        return self._restore_pending

    def ready(self, configured: bool) -> bool:
        """Whether changes go out now.

        Args:
            configured: The session is configured on the current connection.
        """
        return configured and not self._restore_pending and not self.sync.needs_seed

    def add(
        self, item: ConversationItem, configured: bool, previous_item_id: str | None = None
    ) -> list[ClientEvent]:
        """Create one item now, or queue it behind the seed or the restore."""
        if not item.id:
            item.id = self.new_item_id()
        self._queued.append(("create", item, previous_item_id))
        return self.flush(configured)

    def apply(self, changes: ContextChanges, configured: bool) -> list[ClientEvent]:
        """Send a context's changes: deletes first, then creates in order."""
        self._queued += [("delete", item_id, None) for item_id in changes.deletes]
        self._queued += [("create", item, previous) for item, previous in changes.creates]
        return self.flush(configured)

    def flush(self, configured: bool) -> list[ClientEvent]:
        """Send the changes that waited, in order, as far as they may go now."""
        events: list[ClientEvent] = []
        while self._queued and self.ready(configured):
            kind, payload, previous = self._queued.pop(0)
            if kind == "delete":
                assert isinstance(payload, str)
                events.append(self._delete(payload))
            else:
                assert isinstance(payload, ConversationItem)
                events.append(self._create(payload, previous))
        return events

    def seed(self, *, packed: bool) -> list[ClientEvent]:
        """Seed the conversation from the context (call when ``sync.needs_seed``)."""
        return [self._create(item, None) for item in self.sync.seed(packed=packed)]

    def restore(self, max_items: int | None) -> list[ConversationItemCreateEvent]:
        """Rebuild the conversation of the lost connection (once, after it was lost).

        Args:
            max_items: Restore only the most recent items.

        Returns:
            The events that recreate the items, ids and order kept.
        """
        if not self._restore_pending:
            return []
        if self._resumed_plan is not None:
            plan, self._resumed_plan = self._resumed_plan, None
        else:
            plan = self.mirror.restore_plan(max_items)
        events = restore_events(plan)
        self._restored_ids.update(event.item.id for event in events if event.item.id)
        self._restore_pending = False
        return events

    def on_resumed_by_server(self) -> None:
        """The server kept the lost connection's conversation and replays it (xAI's resumption).

        Only what the server never confirmed is created again; the items the server
        replays (under ids of its own) make the mirror afresh.
        """
        self._resumed_plan = self.mirror.unconfirmed_plan()
        self.mirror.clear()

    def on_kept_by_server(self) -> None:
        """The server kept the conversation across connections (a sideband call).

        Nothing is rebuilt: the mirror stays as it was, and changes made meanwhile go
        out as they come.
        """
        self._restore_pending = False
        self._resumed_plan = None

    def is_restored_echo(self, item_id: str | None, *, done: bool = False) -> bool:
        """Tell whether a server item event only echoes an item the restore recreated.

        Args:
            item_id: The item of a ``conversation.item.added`` / ``.done``.
            done: The event is the item's ``done``, its last event.
        """
        if item_id is None or item_id not in self._restored_ids:
            return False
        if done:
            self._restored_ids.discard(item_id)
        return True

    # -- the server's answers ---------------------------------------------------------

    def on_item_added(self, item: ConversationItem, previous_item_id: str | None) -> None:
        """``conversation.item.added``: the mirror holds it; a create of it is confirmed."""
        self.mirror.on_item_added(item, previous_item_id)
        self._acknowledge("create", item.id)

    def on_item_deleted(self, item_id: str) -> None:
        """``conversation.item.deleted``: the item is gone; a delete of it is confirmed."""
        self.mirror.on_item_deleted(item_id)
        self._acknowledge("delete", item_id)
        self.sync.forget_item(item_id)

    def on_refused(self, event_id: str | None, message: str) -> None:
        """An ``error`` named a client event: if it was one of ours, forget the change."""
        self.mirror.forget_client_item(event_id or "")
        pending = self._pending.pop(event_id or "", None)
        if pending is None:
            return
        logger.warning(
            f"{self._name}: the server refused to {pending.kind} item {pending.item_id} "
            f"({message}); the context and the server conversation differ there"
        )
        if pending.kind == "create":
            self.sync.forget_item(pending.item_id)

    def expire(self, now: float) -> None:
        """Log the changes the server has not confirmed in :data:`ACK_TIMEOUT_S`."""
        for event_id, pending in list(self._pending.items()):
            if pending.seen_at is None:
                pending.seen_at = now
            elif now - pending.seen_at > ACK_TIMEOUT_S:
                del self._pending[event_id]
                logger.warning(
                    f"{self._name}: no answer from the server to the {pending.kind} of item "
                    f"{pending.item_id} after {ACK_TIMEOUT_S:g} s"
                )

    def on_connection_reset(self, *, keep_conversation: bool) -> None:
        """A connection ended; the next one starts with an empty server conversation.

        Args:
            keep_conversation: Rebuild the conversation on the next connection (a
                reconnect); False starts afresh, seeded from the context again.
        """
        self._restored_ids.clear()
        self._pending.clear()
        self._resumed_plan = None
        if keep_conversation:
            self.mirror.drop_unfinished()
            self._restore_pending = True
            return
        self.mirror.clear()
        self._restore_pending = False
        self._queued = [q for q in self._queued if q[0] == "create" and q[2] is None]
        self.sync.on_connection_reset()

    # -- internals ----------------------------------------------------------------------

    def _create(self, item: ConversationItem, previous: str | None) -> ConversationItemCreateEvent:
        event_id = self._new_event_id("item")
        # Until the server confirms it, the item is sent again should the connection drop.
        self.mirror.on_client_item(event_id, item, previous)
        if item.id:
            self._pending[event_id] = _Pending("create", item.id)
        return ConversationItemCreateEvent(item=item, previous_item_id=previous, event_id=event_id)

    def _delete(self, item_id: str) -> ConversationItemDeleteEvent:
        event_id = self._new_event_id("delete")
        self._pending[event_id] = _Pending("delete", item_id)
        return ConversationItemDeleteEvent(item_id=item_id, event_id=event_id)

    def _acknowledge(self, kind: str, item_id: str | None) -> None:
        for event_id, pending in list(self._pending.items()):
            if pending.kind == kind and pending.item_id == item_id:
                del self._pending[event_id]
                return
