"""The simulated conversation: ordered items, audio bookkeeping and item operations.

Pure logic: every operation returns the server events to send (or an error), so the
rules are tested without sockets.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pipecat_realtime_openai.testing.ids import new_id


@dataclass(frozen=True)
class ItemError:
    """Why an item operation was refused (fields of the real `error` payload).

    Attributes:
        code: Error code, e.g. ``item_delete_invalid_item_id``.
        message: Human-readable message.
        param: Offending field, when there is one.
    """

    code: str
    message: str
    param: str | None = None


@dataclass
class ConversationStore:
    """Conversation items in server order, plus how much assistant audio each holds.

    Attributes:
        items: Items in conversation order, in their wire shape.
        audio_ms: Milliseconds of assistant audio generated per ``(item_id, content_index)``.
        input_audio: Committed user audio (session-format bytes) per user item id.
        input_audio_ms: Duration of that audio per user item id.
    """

    items: list[dict[str, Any]] = field(default_factory=list)
    audio_ms: dict[tuple[str, int], int] = field(default_factory=dict)
    input_audio: dict[str, bytes] = field(default_factory=dict)
    input_audio_ms: dict[str, float] = field(default_factory=dict)

    def get(self, item_id: str) -> dict[str, Any] | None:
        """Return the item with this id, or None."""
        for item in self.items:
            if item.get("id") == item_id:
                return item
        return None

    def last_id(self) -> str | None:
        """Id of the last item, or None when the conversation is empty."""
        return self.items[-1]["id"] if self.items else None

    def previous_id(self, item_id: str) -> str | None:
        """Id of the item just before `item_id` (None for the first item)."""
        for index, item in enumerate(self.items):
            if item.get("id") == item_id:
                return self.items[index - 1]["id"] if index > 0 else None
        return None

    def insert(
        self, item: dict[str, Any], previous_item_id: str | None = None
    ) -> tuple[str | None, ItemError | None]:
        """Add an item after `previous_item_id`.

        ``None`` appends at the end and ``"root"`` inserts at the start, as the official
        API documents; an unknown id is refused and nothing is added.

        Args:
            item: The item in wire shape; an ``id`` is assigned when missing.
            previous_item_id: Where to insert it.

        Returns:
            The id of the item now preceding it (None at the start) and no error, or
            ``(None, error)``.
        """
        if not item.get("id"):
            item["id"] = new_id("item")
        elif self.get(item["id"]) is not None:
            return None, ItemError(
                "item_create_duplicate_item_id",
                f"Item with id '{item['id']}' already exists.",
                "item.id",
            )
        if previous_item_id is None:
            position = len(self.items)
        elif previous_item_id == "root":
            position = 0
        else:
            found = [
                i for i, existing in enumerate(self.items) if existing["id"] == previous_item_id
            ]
            if not found:
                return None, ItemError(
                    "invalid_value",
                    f"Previous item with id '{previous_item_id}' not found.",
                    "previous_item_id",
                )
            position = found[0] + 1
        self.items.insert(position, item)
        return (self.items[position - 1]["id"] if position > 0 else None), None

    def retrieve(self, item_id: str) -> tuple[dict[str, Any] | None, ItemError | None]:
        """Return a copy of an item, or the `item_retrieve_invalid_item_id` error."""
        item = self.get(item_id)
        if item is None:
            return None, ItemError(
                "item_retrieve_invalid_item_id",
                f"Item with item_id '{item_id}' not found.",
                "item_id",
            )
        return copy.deepcopy(item), None

    def delete(self, item_id: str) -> ItemError | None:
        """Remove an item, or return the `item_delete_invalid_item_id` error."""
        item = self.get(item_id)
        if item is None:
            return ItemError(
                "item_delete_invalid_item_id",
                f"Item with item_id '{item_id}' not found.",
                "item_id",
            )
        self.items.remove(item)
        self.input_audio.pop(item_id, None)
        self.input_audio_ms.pop(item_id, None)
        for key in [key for key in self.audio_ms if key[0] == item_id]:
            del self.audio_ms[key]
        return None

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> ItemError | None:
        """Cut an assistant audio part to `audio_end_ms`, as the real server does.

        Args:
            item_id: The assistant message item.
            content_index: Index of its audio content part.
            audio_end_ms: Where the client stopped playing it.

        Returns:
            None on success (the part's audio length becomes `audio_end_ms` and its
            transcript is dropped, so the model does not remember unheard words), else
            the error the real server sends.
        """
        item = self.get(item_id)
        if item is None:
            return ItemError(
                "item_truncate_invalid_item_id",
                f"Item with item_id '{item_id}' not found.",
                "item_id",
            )
        key = (item_id, content_index)
        if item.get("role") != "assistant" or key not in self.audio_ms:
            return ItemError(
                "invalid_value",
                "Only assistant messages with audio content can be truncated.",
                "item_id",
            )
        generated = self.audio_ms[key]
        if audio_end_ms > generated:
            return ItemError(
                "invalid_value",
                f"Audio content of {generated}ms is already shorter than {audio_end_ms}ms",
                "audio_end_ms",
            )
        self.audio_ms[key] = audio_end_ms
        content = item.get("content") or []
        if content_index < len(content):
            content[content_index]["transcript"] = ""
        return None

    def assistant_audio_present(self) -> bool:
        """Whether any assistant audio was generated (the voice is then frozen)."""
        return bool(self.audio_ms)
