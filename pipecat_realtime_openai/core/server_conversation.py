"""Items going to the server conversation: seeding, queuing, restoring after a reconnect.

:class:`ServerConversation` owns what the client knows of the server conversation: the
:class:`~pipecat_realtime_openai.core.conversation.ConversationMirror` (what the server
holds, from its events), the :class:`~pipecat_realtime_openai.core.context_sync.ConversationSync`
(which parts of the application's context the server has), and the items waiting to
go out. Items wait while the session is not configured, while the conversation of a
lost connection is not rebuilt yet, and while a context waits to be seeded: an item
must follow the history it answers.

It returns the ``conversation.item.create`` events to send; the session sends them.
"""

from __future__ import annotations

from collections.abc import Callable

from pipecat_realtime_openai.core.context_sync import ConversationSync
from pipecat_realtime_openai.core.conversation import ConversationMirror
from pipecat_realtime_openai.core.restore import restore_events
from pipecat_realtime_openai.protocol.client_events import ConversationItemCreateEvent
from pipecat_realtime_openai.protocol.items import ConversationItem

NewEventId = Callable[[str], str]
"""Makes the next client event id from a prefix."""


class ServerConversation:
    """The client's side of the server conversation.

    Attributes:
        sync: Which parts of the context the server holds.
        mirror: The server conversation as its events describe it.

    Args:
        new_event_id: Makes client event ids.
    """

    def __init__(self, new_event_id: NewEventId) -> None:
        self._new_event_id = new_event_id
        self.sync = ConversationSync()
        self.mirror = ConversationMirror()
        self._queued: list[ConversationItem] = []
        # The next connection must rebuild the conversation from the mirror first.
        self._restore_pending = False
        # Ids of restored items whose server echo is not news for the application.
        self._restored_ids: set[str] = set()

    @property
    def restore_pending(self) -> bool:
        """Whether the conversation of a lost connection waits to be rebuilt."""
        return self._restore_pending

    def ready(self, configured: bool) -> bool:
        """Whether items go out now.

        Args:
            configured: The session is configured on the current connection.
        """
        return configured and not self._restore_pending and not self.sync.needs_seed

    def add(self, item: ConversationItem, configured: bool) -> list[ConversationItemCreateEvent]:
        """Create one item now, or queue it behind the seed or the restore."""
        if self.ready(configured) and not self._queued:
            return [self._create(item)]
        self._queued.append(item)
        return []

    def flush(self, configured: bool) -> list[ConversationItemCreateEvent]:
        """Send the items that waited, in order, as far as they may go now."""
        events = []
        while self._queued and self.ready(configured):
            events.append(self._create(self._queued.pop(0)))
        return events

    def seed(self) -> list[ConversationItemCreateEvent]:
        """Seed the conversation from the context (call when ``sync.needs_seed``)."""
        context = self.sync.context
        events = [self._create(item) for item in context.seed] if context is not None else []
        self.sync.mark_seeded()
        return events

    def restore(self, max_items: int | None) -> list[ConversationItemCreateEvent]:
        """Rebuild the conversation of the lost connection (once, after it was lost).

        Args:
            max_items: Restore only the most recent items.

        Returns:
            The events that recreate the items, ids and order kept.
        """
        if not self._restore_pending:
            return []
        events = restore_events(self.mirror.restore_plan(max_items))
        self._restored_ids.update(event.item.id for event in events if event.item.id)
        self._restore_pending = False
        return events

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

    def on_connection_reset(self, *, keep_conversation: bool) -> None:
        """A connection ended; the next one starts with an empty server conversation.

        Args:
            keep_conversation: Rebuild the conversation on the next connection (a
                reconnect); False starts afresh, seeded from the context again.
        """
        self._restored_ids.clear()
        if keep_conversation:
            self.mirror.drop_unfinished()
            self._restore_pending = True
            return
        self.mirror.clear()
        self._restore_pending = False
        self.sync.on_connection_reset()

    def _create(self, item: ConversationItem) -> ConversationItemCreateEvent:
        event_id = self._new_event_id("item")
        # Until the server confirms it, the item is sent again should the connection drop.
        self.mirror.on_client_item(event_id, item)
        return ConversationItemCreateEvent(item=item, event_id=event_id)
