"""Assistant audio playback bookkeeping and the truncation decision on interruption.

When the user barges in, the server must be told how much of the assistant's audio the
user actually heard, so the model's memory of the conversation matches reality. The
server only accepts ``audio_end_ms`` values within the audio it generated for that item;
anything larger fails with ``invalid_value`` ("Audio content of 2450ms is already shorter
than 2535ms"). The plan here never asks for more than the audio *received* for the item,
which is never more than the server generated.

Model: received assistant audio forms one playback queue (across responses, in arrival
order). The transport starts playing it when the bot starts speaking; audio of item ``k``
starts when items ``0..k-1`` have finished. Played time is wall time since playback
started, plus whatever earlier speaking segments already played out.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

# Float arithmetic on ms can leave a fully played item a hair short; this tolerance keeps
# such items from getting a pointless truncate.
_EPSILON_MS = 1e-6
_REMEMBERED_INTERRUPTED_RESPONSES = 32


@dataclass(slots=True)
class AudioItem:
    """Assistant audio received for one content part of one conversation item.

    Attributes:
        item_id: Server id of the assistant message item.
        content_index: Index of the audio content part inside the item.
        response_id: Response that produced the audio.
        bytes_received: Audio bytes received so far, in the session output format.
        streaming: More audio may still arrive for it. Having played all of such an
            item's received audio is not having heard all of it: the server generated
            more, which the user did not hear.
    """

    item_id: str
    content_index: int
    response_id: str
    bytes_received: int = 0
    streaming: bool = False

    def received_ms(self, bytes_per_ms: float) -> int:
        """Return the whole milliseconds of audio received for this item (floored)."""
        # Floor division, never rounding up: the server rejects a truncation even 1 ms
        # past the audio it generated.
        return int(self.bytes_received // bytes_per_ms)


@dataclass(frozen=True, slots=True)
class TruncateItem:
    """Send ``conversation.item.truncate`` for an item the user heard in part.

    Attributes:
        item_id: Item to truncate.
        content_index: Audio content part to truncate.
        audio_end_ms: Milliseconds of audio to keep (always > 0 and within the audio
            received for the item).
        audio_received_ms: Milliseconds of audio received for the item (not compared:
            it informs the conversation mirror, not the server).
    """

    item_id: str
    content_index: int
    audio_end_ms: int
    audio_received_ms: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class DeleteItem:
    """Send ``conversation.item.delete`` for an item the user never heard.

    Attributes:
        item_id: Item to delete.
    """

    item_id: str


PlaybackAction = TruncateItem | DeleteItem


def truncation_plan(
    items: Sequence[AudioItem], played_ms: float, bytes_per_ms: float
) -> list[PlaybackAction]:
    """Decide what to tell the server about audio cut off by an interruption.

    Args:
        items: Audio items in playback order.
        played_ms: Milliseconds of the queue played before the interruption.
        bytes_per_ms: Bytes per millisecond of the session output audio format.

    Returns:
        For the item being heard, a truncate at ``min(played in item, received)`` ms
        (floored); for items not heard at all, a delete; nothing for fully played items.
        A later content part of an item already partly heard gets no action, since
        deleting the item would also erase what the user heard. An item still
        streaming whose received audio was all played is truncated at what was
        received: the rest was generated but never reached the user.
    """
    if bytes_per_ms <= 0:
        raise ValueError("bytes_per_ms must be positive")
    plan: list[PlaybackAction] = []
    heard_item_ids: set[str] = set()
    offset_ms = 0.0
    for item in items:
        duration_ms = item.bytes_received / bytes_per_ms
        played_in_item = played_ms - offset_ms
        offset_ms += duration_ms
        if played_in_item >= duration_ms - _EPSILON_MS and not item.streaming:
            heard_item_ids.add(item.item_id)
            continue
        audio_end_ms = min(math.floor(played_in_item), item.received_ms(bytes_per_ms))
        if audio_end_ms > 0:
            heard_item_ids.add(item.item_id)
            plan.append(
                TruncateItem(
                    item.item_id,
                    item.content_index,
                    audio_end_ms,
                    audio_received_ms=item.received_ms(bytes_per_ms),
                )
            )
        elif item.item_id not in heard_item_ids:
            heard_item_ids.add(item.item_id)
            plan.append(DeleteItem(item.item_id))
    return plan


@dataclass
class PlaybackTracker:
    """Tracks assistant audio as it is received and played, for truncation on interrupt.

    Attributes:
        bytes_per_ms: Bytes per millisecond of the output format (48 for 24 kHz PCM16,
            8 for G.711).
    """

    bytes_per_ms: float
    _items: list[AudioItem] = field(default_factory=list, init=False, repr=False)
    _by_key: dict[tuple[str, int], AudioItem] = field(default_factory=dict, init=False, repr=False)
    # Bytes of every item in the queue, kept as a running total: summing the items on
    # each delta would make a long reply's bookkeeping quadratic.
    _queued_bytes: int = field(default=0, init=False, repr=False)
    # Bytes at the queue front that earlier speaking segments already played out.
    _settled_bytes: int = field(default=0, init=False, repr=False)
    _segment_started_at: float | None = field(default=None, init=False, repr=False)
    _interrupted: deque[str] = field(
        default_factory=lambda: deque(maxlen=_REMEMBERED_INTERRUPTED_RESPONSES),
        init=False,
        repr=False,
    )

    def __post_init__(self) -> None:
        if self.bytes_per_ms <= 0:
            raise ValueError("bytes_per_ms must be positive")

    @property
    def items(self) -> list[AudioItem]:
        """Audio items still in the playback queue, in playback order (a copy)."""
        return list(self._items)

    @property
    def is_playing(self) -> bool:
        """True between bot-started-speaking and bot-stopped-speaking."""
        return self._segment_started_at is not None

    def on_audio(
        self,
        item_id: str,
        content_index: int,
        response_id: str,
        nbytes: int,
        now: float | None = None,
    ) -> bool:
        """Record received assistant audio.

        Args:
            item_id: Item the audio belongs to.
            content_index: Content part of the item.
            response_id: Response that produced it.
            nbytes: Size of the decoded audio chunk in bytes.
            now: Monotonic seconds, if known. When the queue had already played out
                (the transport was idle while it waited), playback of the new audio is
                taken to start now instead of counting the idle time as heard.

        Returns:
            False when the audio belongs to a response already interrupted (late deltas
            the caller should drop), True otherwise.
        """
        if response_id in self._interrupted:
            return False
        if now is not None and self._segment_started_at is not None:
            queued = self._queued_bytes
            if self._played_bytes(now) >= queued:
                self._settled_bytes = queued
                self._segment_started_at = now
        key = (item_id, content_index)
        item = self._by_key.get(key)
        if item is None:
            # Audio comes part after part: a new part means the previous one ended.
            if self._items:
                self._items[-1].streaming = False
            item = AudioItem(item_id, content_index, response_id, streaming=True)
            self._by_key[key] = item
            self._items.append(item)
        item.bytes_received += nbytes
        self._queued_bytes += nbytes
        return True

    def on_audio_done(self, item_id: str, content_index: int) -> None:
        """Record ``response.output_audio.done``: the part's audio is complete.

        Args:
            item_id: Item of the audio part.
            content_index: Content index of the part.
        """
        item = self._by_key.get((item_id, content_index))
        if item is not None:
            item.streaming = False

    def on_response_done(self, response_id: str) -> None:
        """Record that a response ended: none of its items gets more audio.

        Args:
            response_id: The response of ``response.done``.
        """
        for item in self._items:
            if item.response_id == response_id:
                item.streaming = False

    def on_playback_started(self, now: float) -> None:
        """Record that the transport started playing (BotStartedSpeakingFrame).

        Args:
            now: Monotonic seconds when the bot started speaking.
        """
        if self._segment_started_at is None:
            self._segment_started_at = now

    def on_playback_stopped(self, now: float) -> None:
        """Record that the bot stopped speaking: everything received so far was played.

        Args:
            now: Monotonic seconds when the bot stopped speaking.
        """
        del now  # The transport drained its queue, so received audio counts in full.
        if self._segment_started_at is None:
            return  # Nothing was playing, so nothing can have been heard.
        self._segment_started_at = None
        self._settled_bytes = self._queued_bytes
        self._drop_settled_items()

    def played_ms(self, now: float) -> float:
        """Return the milliseconds of the queue played by ``now``."""
        return self._played_bytes(now) / self.bytes_per_ms

    def plan_interruption(self, now: float) -> list[PlaybackAction]:
        """Decide truncations/deletions for an interruption at ``now``, then reset.

        Args:
            now: Monotonic seconds of the interruption.

        Returns:
            The actions for the service to send, in queue order.
        """
        plan = truncation_plan(self._items, self.played_ms(now), self.bytes_per_ms)
        for item in self._items:
            if item.response_id not in self._interrupted:
                self._interrupted.append(item.response_id)
        self._clear_queue()
        return plan

    def reset(self) -> None:
        """Forget everything (new connection or end of session)."""
        self._clear_queue()
        self._interrupted.clear()

    def _clear_queue(self) -> None:
        self._items.clear()
        self._by_key.clear()
        self._queued_bytes = 0
        self._settled_bytes = 0
        self._segment_started_at = None

    def _played_bytes(self, now: float) -> float:
        played = float(self._settled_bytes)
        if self._segment_started_at is not None:
            # Rounded to the microsecond: clock seconds in floating point turn 300 ms into
            # 299.99999..., which the floor in truncation_plan would cost a whole ms.
            elapsed_ms = max(0.0, round((now - self._segment_started_at) * 1000.0, 3))
            played += elapsed_ms * self.bytes_per_ms
        return played

    def _drop_settled_items(self) -> None:
        # Keep the newest item: its audio may still be streaming, and a truncate must be
        # measured from the start of that item, not from where the queue was pruned.
        while len(self._items) > 1 and self._items[0].bytes_received <= self._settled_bytes:
            item = self._items.pop(0)
            self._settled_bytes -= item.bytes_received
            self._queued_bytes -= item.bytes_received
            del self._by_key[(item.item_id, item.content_index)]
