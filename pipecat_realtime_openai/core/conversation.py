"""Mirror of the server-side conversation, and the plan to rebuild it after a reconnect.

A Realtime session ends after 60 minutes (or when the network drops) and a new one
starts empty. The mirror follows the server's ``conversation.item.*`` events so the
conversation can be recreated on the fresh connection with client
``conversation.item.create`` events. Audio is replaced by its transcript: user audio
becomes ``input_text``, assistant audio becomes ``output_text`` (the only content type
a client may give an assistant message). User audio whose transcript is unknown comes
back as ``input_audio`` when its audio was handed to :meth:`ConversationMirror.on_input_audio`
(the service keeps the audio of each spoken turn for this). Item ids are kept, so later
truncate/delete requests by id still hit the right item.
"""

from __future__ import annotations

import base64
import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipecat_realtime_openai.protocol.items import ConversationItem

ItemLike = ConversationItem | Mapping[str, Any]
"""An item as a protocol model or as its wire dict."""

_AUDIO_TYPES = frozenset({"input_audio", "output_audio", "audio"})
DEFAULT_MAX_INPUT_AUDIO_BYTES = 120 * 48_000
"""Audio of untranscribed user turns kept for restores: 120 s of 24 kHz 16-bit PCM."""
_TEXT_TYPES = frozenset({"input_text", "output_text", "text"})


@dataclass(slots=True)
class MirroredItem:
    """One item of the mirrored conversation.

    Attributes:
        item: The item's latest wire dict.
        done: ``conversation.item.done`` was received (the item is final).
        truncated_at_ms: ``audio_end_ms`` of a truncation, if the item was truncated.
        truncated_part: Content index of the truncated part.
        audio_ms: Audio received for that part when the client asked for the
            truncation; with ``truncated_at_ms`` it tells how much of the transcript
            the user heard.
    """

    item: dict[str, Any]
    done: bool = False
    truncated_at_ms: int | None = None
    truncated_part: int = 0
    audio_ms: int | None = None


@dataclass
class ConversationMirror:
    """Follows ``conversation.item.*`` server events to mirror the conversation."""

    _order: list[str] = field(default_factory=list, init=False, repr=False)
    _items: dict[str, MirroredItem] = field(default_factory=dict, init=False, repr=False)
    # Transcripts can arrive before the user item is announced; apply them on arrival.
    _early_transcripts: dict[tuple[str, int], str] = field(
        default_factory=dict, init=False, repr=False
    )
    # Items the client created that the server has not confirmed yet, in the order sent,
    # by the event id of their conversation.item.create (restorable form).
    _unconfirmed: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)
    # Raw audio of user turns without a transcript, oldest first, within a budget of
    # bytes; base64 only when a restore sends it (a third larger, and rarely needed).
    max_input_audio_bytes: int = DEFAULT_MAX_INPUT_AUDIO_BYTES
    _input_audio: dict[str, bytes] = field(default_factory=dict, init=False, repr=False)
    _input_audio_bytes: int = field(default=0, init=False, repr=False)
    # Ids of client items asked to go first (previous_item_id "root").
    _at_start: set[str] = field(default_factory=set, init=False, repr=False)
    # Share of each cut-off assistant item's audio the user heard (0 when deleted).
    _heard: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    def __len__(self) -> int:
        return len(self._order)

    def get(self, item_id: str) -> MirroredItem | None:
        """Return the mirrored item with this id, if present."""
        return self._items.get(item_id)

    def item_for_call(self, call_id: str, kind: str) -> str | None:
        """The id of the ``function_call`` or ``function_call_output`` item of a call.

        Items the client is creating count too (not confirmed yet). An MCP call stands
        as its own ``function_call`` (its id is the call id the host's frames give it):
        the server ran it and holds it.
        """
        mcp = self._items.get(call_id) if kind == "function_call" else None
        if mcp is not None and mcp.item.get("type") == "mcp_call":
            return call_id
        for item_id in reversed(self._order):
            item = self._items[item_id].item
            if item.get("type") == kind and item.get("call_id") == call_id:
                return item_id
        for sent in self._unconfirmed.values():
            if sent.get("type") == kind and sent.get("call_id") == call_id and sent.get("id"):
                return str(sent["id"])
        return None

    def finished_ids(self) -> list[str]:
        """Ids of the items the server finished (``conversation.item.done``), in order."""
        return [item_id for item_id in self._order if self._items[item_id].done]

    def ids(self) -> list[str]:
        """Ids of every mirrored item, in conversation order."""
        return list(self._order)

    def on_item_added(self, item: ItemLike, previous_item_id: str | None = None) -> None:
        """Apply ``conversation.item.added``.

        Args:
            item: The item from the event.
            previous_item_id: Item it follows. None or an unknown id appends it at the
                end, because some servers (xAI) send null or ids of their own for it.
        """
        self._upsert(item, previous_item_id, done=False)

    def on_item_done(self, item: ItemLike, previous_item_id: str | None = None) -> None:
        """Apply ``conversation.item.done``: the item is final."""
        self._upsert(item, previous_item_id, done=True)

    def on_function_call_arguments(
        self, item_id: str, call_id: str, name: str, arguments: str
    ) -> None:
        """Apply ``response.function_call_arguments.done``: the call item is complete.

        The call can run from here on, so it must survive a reconnect even when the
        connection drops before its ``conversation.item.done`` arrives.
        """
        if not item_id:
            return
        entry = self._items.get(item_id)
        data = dict(entry.item) if entry is not None else {"id": item_id}
        data.update(type="function_call", call_id=call_id, name=name, arguments=arguments)
        self._upsert(data, None, done=True)

    def on_input_audio(self, item_id: str, audio: bytes) -> int:
        """Keep the audio of a spoken user turn until its transcript is known.

        A restore sends it as ``input_audio`` if no transcript arrives. The oldest turns'
        audio goes first when the budget (``max_input_audio_bytes``) is exceeded.

        Args:
            item_id: The user item the turn became.
            audio: Its audio, in the session input format.

        Returns:
            How many turns lost their audio to the budget (this one included, when it
            alone is larger).
        """
        entry = self._items.get(item_id)
        if entry is not None and _transcript_of(entry.item):
            return 0
        self._drop_input_audio(item_id)
        self._input_audio[item_id] = audio
        self._input_audio_bytes += len(audio)
        dropped = 0
        while self._input_audio_bytes > self.max_input_audio_bytes and self._input_audio:
            self._drop_input_audio(next(iter(self._input_audio)))
            dropped += 1
        return dropped

    @property
    def input_audio_bytes(self) -> int:
        """Bytes of turn audio kept for restores now."""
        return self._input_audio_bytes

    def forget_input_audio(self) -> None:
        """Drop the kept turn audio (the session input format changed)."""
        self._input_audio.clear()
        self._input_audio_bytes = 0

    def _drop_input_audio(self, item_id: str) -> None:
        audio = self._input_audio.pop(item_id, None)
        if audio is not None:
            self._input_audio_bytes -= len(audio)

    def on_client_item(
        self, event_id: str, item: ItemLike, previous_item_id: str | None = None
    ) -> None:
        """Record an item the client is creating, until the server confirms it.

        Should the connection drop first, :meth:`restore_plan` sends it again. The
        server's ``conversation.item.added`` confirms it: by id when the item has
        one, else by what it holds (kind, role and texts, or call id).

        Args:
            event_id: The event id of its ``conversation.item.create``.
            item: The item.
            previous_item_id: Where it was asked to go (``"root"``: first), which the
                server's echo does not say for an item inserted at the start.
        """
        restored = restorable_item(_as_dict(item))
        if restored is not None and restored.get("id") not in self._items:
            self._unconfirmed[event_id] = restored
            if previous_item_id == "root" and restored.get("id"):
                self._at_start.add(str(restored["id"]))

    def forget_client_item(self, event_id: str) -> None:
        """The server refused a client item (an ``error`` naming its event): never resend it."""
        self._unconfirmed.pop(event_id, None)

    def drop_unfinished(self) -> None:
        """Forget items the server never finished (the connection that made them ended)."""
        for item_id in [i for i in self._order if not self._items[i].done]:
            del self._items[item_id]
            self._order.remove(item_id)

    def on_item_deleted(self, item_id: str) -> None:
        """Apply ``conversation.item.deleted``."""
        self._drop_input_audio(item_id)
        if self._items.pop(item_id, None) is not None:
            self._order.remove(item_id)

    def on_truncate_sent(
        self, item_id: str, audio_received_ms: int, audio_end_ms: int | None = None
    ) -> None:
        """Remember how much audio an item had when its truncation was asked for.

        Args:
            item_id: The assistant item being truncated.
            audio_received_ms: Its audio received so far, in ms.
            audio_end_ms: How much of it the user heard, in ms.
        """
        entry = self._items.get(item_id)
        if entry is not None:
            entry.audio_ms = audio_received_ms
        if audio_end_ms is not None and audio_received_ms > 0:
            self._heard[item_id] = min(1.0, audio_end_ms / audio_received_ms)

    def on_unheard(self, item_id: str) -> None:
        """An assistant item was deleted at a barge-in before the user heard any of it."""
        self._heard[item_id] = 0.0

    def heard_share(self, item_id: str) -> float | None:
        """The share of an assistant item's audio the user heard, if a barge-in cut it."""
        return self._heard.get(item_id)

    def position(self, item_id: str) -> int | None:
        """Where an item stands in the conversation (0 first), if the mirror holds it."""
        try:
            return self._order.index(item_id)
        except ValueError:
            return None

    def on_item_truncated(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        """Apply ``conversation.item.truncated``: audio after ``audio_end_ms`` is gone.

        The server also drops the item's transcript, so that the model's context holds
        nothing the user did not hear. The mirror keeps it, since it is what a restored
        conversation is rebuilt from; a restore sends only the heard share of it
        (see :func:`heard_transcript`).
        """
        entry = self._items.get(item_id)
        if entry is None:
            return
        entry.truncated_at_ms = audio_end_ms
        entry.truncated_part = content_index
        part = _content_part(entry.item, content_index)
        if part is not None:
            part.pop("audio", None)

    def on_input_transcript(self, item_id: str, content_index: int, transcript: str) -> None:
        """Apply ``conversation.item.input_audio_transcription.completed``."""
        entry = self._items.get(item_id)
        part = _content_part(entry.item, content_index) if entry is not None else None
        if transcript:
            self._drop_input_audio(item_id)  # the text is restored instead
        if part is None:
            self._early_transcripts[(item_id, content_index)] = transcript
            return
        part["transcript"] = transcript

    def completed_items(self) -> list[dict[str, Any]]:
        """Return copies of the final items, in conversation order.

        Items still being produced (no ``conversation.item.done`` yet) are left out so a
        half-spoken assistant message is never replayed.
        """
        return [
            copy.deepcopy(self._items[item_id].item)
            for item_id in self._order
            if self._items[item_id].done
        ]

    def _restorable_completed_items(self) -> list[dict[str, Any]]:
        # completed_items(), with truncated parts cut to the transcript the user heard.
        items = []
        for item_id in self._order:
            entry = self._items[item_id]
            if not entry.done:
                continue
            item = copy.deepcopy(entry.item)
            part = _content_part(item, entry.truncated_part)
            if (
                entry.truncated_at_ms is not None
                and entry.audio_ms
                and part is not None
                and part.get("transcript")
            ):
                heard = entry.truncated_at_ms / entry.audio_ms
                part["transcript"] = heard_transcript(part["transcript"], heard)
            items.append(item)
        return items

    def restore_plan(self, max_items: int | None = None) -> list[dict[str, Any]]:
        """Return the items to create, in order, to rebuild the conversation.

        Args:
            max_items: Keep only the most recent items, to bound restore time and cost.

        Returns:
            Item dicts for ``conversation.item.create``. Audio is replaced by its
            transcript, cut to the share the user heard when the item was truncated
            (items with nothing left are skipped), function calls and
            outputs are kept, outputs whose call is missing are dropped because the
            server rejects them. Client items the server never confirmed come last,
            in the order they were sent.
        """
        plan = [
            restored
            for item in self._restorable_completed_items()
            if (restored := restorable_item(item, self._input_audio.get(item.get("id", ""))))
            is not None
        ]
        if max_items is not None:
            plan = plan[-max_items:] if max_items > 0 else []
        plan += [
            restored
            for item in self._unconfirmed.values()
            if (restored := restorable_item(item)) is not None
        ]
        call_ids = {item["call_id"] for item in plan if item["type"] == "function_call"}
        return [
            item
            for item in plan
            if item["type"] != "function_call_output" or item["call_id"] in call_ids
        ]

    def unconfirmed_plan(self) -> list[dict[str, Any]]:
        """Return the client items the server never confirmed, to create again, in order."""
        return [
            restored
            for item in self._unconfirmed.values()
            if (restored := restorable_item(item)) is not None
        ]

    def clear(self) -> None:
        """Forget the conversation (a new, unrelated session)."""
        self._order.clear()
        self._items.clear()
        self._early_transcripts.clear()
        self._unconfirmed.clear()
        self.forget_input_audio()
        self._at_start.clear()
        self._heard.clear()

    def _upsert(self, item: ItemLike, previous_item_id: str | None, done: bool) -> None:
        data = _as_dict(item)
        item_id = data.get("id")
        if not item_id:
            return
        entry = self._items.get(item_id)
        if entry is None:
            # A client item is whole when created: its confirmation finishes it.
            done = self._confirm_client_item(data) or done
            entry = MirroredItem(data)
            self._items[item_id] = entry
            if previous_item_id is not None and previous_item_id in self._items:
                self._order.insert(self._order.index(previous_item_id) + 1, item_id)
            elif item_id in self._at_start:
                self._order.insert(0, item_id)
            else:
                self._order.append(item_id)
            self._at_start.discard(item_id)
        else:
            _keep_known_transcripts(entry.item, data)
            entry.item = data
        entry.done = entry.done or done
        for index, part in enumerate(data.get("content") or []):
            early = self._early_transcripts.pop((item_id, index), None)
            if early is not None and isinstance(part, dict):
                part["transcript"] = early
        if entry.truncated_at_ms is not None:
            for part in data.get("content") or []:
                if isinstance(part, dict):
                    part.pop("audio", None)

    def _confirm_client_item(self, data: dict[str, Any]) -> bool:
        if not self._unconfirmed:
            return False
        echo = restorable_item(data)
        if echo is None:
            return False
        for event_id, sent in self._unconfirmed.items():
            if sent.get("id") == echo.get("id") or (
                "id" not in sent and _identity(sent) == _identity(echo)
            ):
                del self._unconfirmed[event_id]
                return True
        return False


def _identity(item: Mapping[str, Any]) -> tuple[Any, ...]:
    # What a server echo of a client item surely repeats: images are counted rather
    # than compared, since an echo need not repeat their data.
    kind = item.get("type")
    if kind in ("function_call", "function_call_output"):
        return (kind, item.get("call_id"))
    parts = item.get("content") or []
    texts = tuple(p.get("text") for p in parts if p.get("type") != "input_image")
    images = sum(1 for p in parts if p.get("type") == "input_image")
    return (kind, item.get("role"), texts, images)


def restorable_item(item: Mapping[str, Any], audio: bytes | None = None) -> dict[str, Any] | None:
    """Convert a server item into one a client may create, or None if nothing is left.

    Args:
        item: A final item's wire dict.
        audio: The audio of a user audio item (session input format), sent as base64
            when the item has no transcript.

    Returns:
        The client item dict, keeping the id; None for items without usable content
        or of types a client cannot create.
    """
    kind = item.get("type")
    base: dict[str, Any] = {"type": kind}
    if item.get("id"):
        base["id"] = item["id"]
    if kind == "function_call":
        return {
            **base,
            "call_id": item.get("call_id"),
            "name": item.get("name"),
            "arguments": item.get("arguments") or "",
        }
    if kind == "function_call_output":
        return {**base, "call_id": item.get("call_id"), "output": item.get("output") or ""}
    if kind != "message":
        return None
    role = item.get("role")
    text_type = "output_text" if role == "assistant" else "input_text"
    content = []
    for part in item.get("content") or []:
        converted = _restorable_part(
            part, text_type, allow_images=role == "user", audio=audio if role == "user" else None
        )
        if converted is not None:
            content.append(converted)
    if not content:
        return None
    return {**base, "role": role, "content": content}


def _restorable_part(
    part: Mapping[str, Any], text_type: str, allow_images: bool, audio: bytes | None
) -> dict[str, Any] | None:
    part_type = part.get("type")
    if part_type in _AUDIO_TYPES:
        transcript = part.get("transcript")
        if transcript:
            return {"type": text_type, "text": transcript}
        if not audio:
            return None
        return {"type": "input_audio", "audio": base64.b64encode(audio).decode("ascii")}
    if part_type in _TEXT_TYPES:
        text = part.get("text")
        return {"type": text_type, "text": text} if text else None
    if part_type == "input_image" and allow_images and part.get("image_url"):
        image = {"type": "input_image", "image_url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return image
    return None


def heard_transcript(transcript: str, heard: float) -> str:
    """The start of a transcript spoken in the first `heard` share of its audio.

    Speech runs at a roughly even pace, so the share of characters follows the share of
    audio; the cut moves back to the last word boundary (a partly heard word is left
    out), except in text written without spaces, where it stays at the character.

    Args:
        transcript: The whole transcript.
        heard: Share of the audio played to the user, 0 to 1.

    Returns:
        The heard part, without trailing whitespace; "" when nothing was heard.
    """
    if heard >= 1:
        return transcript
    cut = math.floor(len(transcript) * max(0.0, heard))
    if cut >= len(transcript):
        return transcript
    if " " in transcript and not transcript[cut].isspace():
        cut = max(0, transcript.rfind(" ", 0, cut + 1))
    return transcript[:cut].rstrip()


def _as_dict(item: ItemLike) -> dict[str, Any]:
    if isinstance(item, ConversationItem):
        return item.to_dict()
    return copy.deepcopy(dict(item))


def _transcript_of(item: Mapping[str, Any]) -> str | None:
    for part in item.get("content") or []:
        if isinstance(part, dict) and part.get("transcript"):
            return part["transcript"]
    return None


def _content_part(item: dict[str, Any], index: int) -> dict[str, Any] | None:
    content = item.get("content") or []
    if 0 <= index < len(content) and isinstance(content[index], dict):
        return content[index]
    return None


def _keep_known_transcripts(old: dict[str, Any], new: dict[str, Any]) -> None:
    # item.done often carries transcript null for user audio whose transcription
    # already completed; do not lose it.
    old_content = old.get("content") or []
    for index, part in enumerate(new.get("content") or []):
        if (
            isinstance(part, dict)
            and not part.get("transcript")
            and index < len(old_content)
            and isinstance(old_content[index], dict)
            and old_content[index].get("transcript")
        ):
            part["transcript"] = old_content[index]["transcript"]
