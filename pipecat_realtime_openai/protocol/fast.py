"""Hot-path codec for audio and text streaming: plain ``__slots__`` objects, no pydantic.

A voice session carries ~50 audio deltas per second each way. These helpers keep the
per-chunk cost to one ``json.loads`` (receive) or one string concatenation (send).
:func:`merge_delta_runs` groups deltas that were already received back to back, so the
service can hand them on as one frame instead of one per delta.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Sequence
from typing import Any, ClassVar

_APPEND_PREFIX = '{"type":"input_audio_buffer.append","audio":"'
_APPEND_PREFIX_WITH_ID = '{"type":"input_audio_buffer.append","event_id":'


def encode_append(pcm: bytes, event_id: str | None = None) -> str:
    """Build the JSON text of an ``input_audio_buffer.append`` event.

    Args:
        pcm: Audio bytes already in the session's input format.
        event_id: Optional client event id.

    Returns:
        The JSON text to send; equal (as JSON) to
        ``InputAudioBufferAppendEvent(audio=..., event_id=...).to_json()``.
    """
    # base64 output never needs JSON escaping, so plain concatenation is safe.
    audio = binascii.b2a_base64(pcm, newline=False).decode("ascii")
    if event_id is None:
        return _APPEND_PREFIX + audio + '"}'
    return _APPEND_PREFIX_WITH_ID + json.dumps(event_id) + ',"audio":"' + audio + '"}'


class ContentDelta:
    """A streamed chunk of one content part of a response item."""

    # ``_patched`` is only ever set by :meth:`from_wire_tolerant`: left unset, it costs
    # the hot path nothing.
    __slots__ = ("_fields_source", "_patched", "content_index", "delta", "event_id",
                 "item_id", "output_index", "response_id")  # fmt: skip

    type: ClassVar[str]
    _patched: tuple[str, ...]
    _KNOWN: ClassVar[frozenset[str]] = frozenset(
        {"type", "event_id", "response_id", "item_id", "output_index", "content_index", "delta"}
    )

    def __init__(
        self,
        response_id: str,
        item_id: str,
        output_index: int,
        content_index: int,
        delta: str,
        event_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Create a delta.

        Args:
            response_id: Response the chunk belongs to.
            item_id: Item the chunk belongs to.
            output_index: Index of the item in the response output.
            content_index: Index of the content part in the item.
            delta: The chunk (base64 audio for ``AudioDelta``, text otherwise).
            event_id: Server event id.
            extra: Unknown wire fields to keep; known keys in it are ignored.
        """
        self.response_id = response_id
        self.item_id = item_id
        self.output_index = output_index
        self.content_index = content_index
        self.delta = delta
        self.event_id = event_id
        # Unknown fields are picked out of this dict only when asked for, so the hot
        # path never copies the received event.
        self._fields_source = extra

    @property
    def extra(self) -> dict[str, Any] | None:
        """Unknown wire fields (e.g. ``obfuscation``), or ``None`` when there are none."""
        source = self._fields_source
        if not source:
            return None
        known = self._KNOWN
        unknown = {key: value for key, value in source.items() if key not in known}
        return unknown or None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ContentDelta | None:
        """Build from a decoded event, or return None when a required field is off.

        Args:
            data: The decoded JSON object of the event.

        Returns:
            The delta, or ``None`` if a field is missing or has the wrong type (the
            caller then falls back to full validation, which explains the problem).
        """
        get = data.get
        response_id = get("response_id")
        item_id = get("item_id")
        output_index = get("output_index")
        content_index = get("content_index")
        delta = get("delta")
        event_id = get("event_id")
        # Exact type checks (bool is not an index) in one expression: cheaper than
        # exceptions and far cheaper than model validation.
        if not (
            type(response_id) is str
            and type(item_id) is str
            and type(output_index) is int
            and type(content_index) is int
            and type(delta) is str
            # An explicit null event_id goes the slow way, which keeps it for to_dict.
            and (type(event_id) is str or (event_id is None and "event_id" not in data))
        ):
            return None
        source = data if len(data) != 6 + ("event_id" in data) else None
        return cls(response_id, item_id, output_index, content_index, delta, event_id, source)

    @classmethod
    def from_wire_tolerant(cls, data: dict[str, Any]) -> ContentDelta | None:
        """Build from a decoded event whose optional fields may be missing or bent.

        The slow path, for events :meth:`from_wire` refused: ``output_index`` and
        ``content_index`` that are missing or not integers read as 0, an ``event_id``
        that is not a string as None. The values as received are kept, so
        :meth:`to_dict` still gives back the event as it came.

        Args:
            data: The decoded JSON object of the event.

        Returns:
            The delta, or ``None`` when ``response_id``, ``item_id`` or ``delta`` is
            missing or not a string (without them the delta cannot be placed).
        """
        get = data.get
        response_id = get("response_id")
        item_id = get("item_id")
        delta = get("delta")
        if not (type(response_id) is str and type(item_id) is str and type(delta) is str):
            return None
        patched: list[str] = []
        output_index = get("output_index")
        if type(output_index) is not int:
            output_index = 0
            patched.append("output_index")
        content_index = get("content_index")
        if type(content_index) is not int:
            content_index = 0
            patched.append("content_index")
        event_id = get("event_id")
        if type(event_id) is not str:
            event_id = None
            if "event_id" in data:
                patched.append("event_id")
        instance = cls(response_id, item_id, output_index, content_index, delta, event_id, data)
        instance._patched = tuple(patched)
        return instance

    def renamed_from(self, data: dict[str, Any]) -> None:
        """Record that the event came under another (beta) name: ``data`` as received.

        Args:
            data: The decoded event as received, its ``type`` the beta name.
        """
        patched = self.patched
        self._fields_source = data
        self._patched = ("type", *patched)

    @property
    def patched(self) -> tuple[str, ...]:
        """Fields whose value did not come from the wire as is (see :meth:`from_wire_tolerant`).

        ``"type"`` is among them when the event came under its beta name.
        """
        try:
            return self._patched
        except AttributeError:
            return ()

    def to_dict(self) -> dict[str, Any]:
        """Return the wire dict of the event.

        Returns:
            The event as received, including unknown fields.
        """
        data: dict[str, Any] = {"type": self.type}
        if self.event_id is not None:
            data["event_id"] = self.event_id
        data["response_id"] = self.response_id
        data["item_id"] = self.item_id
        data["output_index"] = self.output_index
        data["content_index"] = self.content_index
        data["delta"] = self.delta
        source = self._fields_source
        if source is None:
            return data
        extra = self.extra
        if extra:
            data.update(extra)
        for name in self.patched:
            # "type" stays the GA name; other patched fields go back as received.
            if name == "type":
                continue
            if name in source:
                data[name] = source[name]
            else:
                data.pop(name, None)
        return data

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Deltas can hold audio: show only its length, never the payload.
        return (
            f"{type(self).__name__}(response_id={self.response_id!r}, item_id={self.item_id!r}, "
            f"output_index={self.output_index}, content_index={self.content_index}, "
            f"delta=<{len(self.delta)} chars>, event_id={self.event_id!r})"
        )


class AudioDelta(ContentDelta):
    """``response.output_audio.delta``: a chunk of the model's audio (base64 in ``delta``)."""

    __slots__ = ()
    type: ClassVar[str] = "response.output_audio.delta"

    def audio(self) -> bytes:
        """Decode the audio chunk.

        Returns:
            The raw audio bytes in the session's output format.
        """
        return binascii.a2b_base64(self.delta)


class TranscriptDelta(ContentDelta):
    """``response.output_audio_transcript.delta``: a chunk of the spoken reply's transcript."""

    __slots__ = ()
    type: ClassVar[str] = "response.output_audio_transcript.delta"


class TextDelta(ContentDelta):
    """``response.output_text.delta``: a chunk of a text reply."""

    __slots__ = ()
    type: ClassVar[str] = "response.output_text.delta"


FAST_DELTA_TYPES: dict[str, type[ContentDelta]] = {
    AudioDelta.type: AudioDelta,
    TranscriptDelta.type: TranscriptDelta,
    TextDelta.type: TextDelta,
}
"""Event types decoded on the fast path, by wire ``type``."""


class DeltaRun:
    """Back-to-back deltas of one content part, handled as one chunk.

    Built by :func:`merge_delta_runs` from deltas that had all been received before any
    was handled, so merging them delays nothing: it only spares the per-frame cost of
    handing each one on separately.

    Args:
        deltas: One or more deltas of the same type, response, item and content part,
            in arrival order.

    Raises:
        ValueError: When ``deltas`` is empty.
    """

    __slots__ = ("deltas",)

    def __init__(self, deltas: Sequence[ContentDelta]) -> None:
        if not deltas:
            raise ValueError("a delta run needs at least one delta")
        self.deltas = deltas

    @property
    def first(self) -> ContentDelta:
        """The first delta of the run (its ids are those of every delta in the run)."""
        return self.deltas[0]

    def audio(self) -> bytes:
        """Decode and join the audio of the run (for runs of :class:`AudioDelta`).

        Returns:
            The raw audio bytes of every delta, in order.
        """
        deltas = self.deltas
        if len(deltas) == 1:
            return binascii.a2b_base64(deltas[0].delta)
        # Each delta is decoded on its own: base64 texts may end in padding, so their
        # concatenation is not valid base64.
        return b"".join([binascii.a2b_base64(delta.delta) for delta in deltas])

    def text(self) -> str:
        """Join the text of the run (for transcript and text deltas)."""
        deltas = self.deltas
        if len(deltas) == 1:
            return deltas[0].delta
        return "".join([delta.delta for delta in deltas])

    def __len__(self) -> int:
        return len(self.deltas)

    def __repr__(self) -> str:
        first = self.first
        return (
            f"DeltaRun({type(first).__name__} x{len(self.deltas)}, "
            f"response_id={first.response_id!r}, item_id={first.item_id!r}, "
            f"content_index={first.content_index})"
        )


_MERGEABLE = frozenset(FAST_DELTA_TYPES.values())


def merge_delta_runs(events: Sequence[object]) -> list[object]:
    """Group consecutive deltas of the same content part into :class:`DeltaRun` s.

    Only neighbours merge: a delta of another type or content part, or any other event,
    ends a run, so the order of everything the caller handles is unchanged (audio and
    its transcript keep their interleaving; a ``response.done`` stays after the audio).

    Args:
        events: Parsed server events in arrival order.

    Returns:
        The same events in the same order, each delta (alone or merged with the deltas
        that follow it) inside a :class:`DeltaRun`.
    """
    merged: list[object] = []
    run: list[ContentDelta] = []
    for event in events:
        if type(event) in _MERGEABLE:
            delta: ContentDelta = event  # type: ignore[assignment]
            if run and _continues(run[-1], delta):
                run.append(delta)
                continue
            if run:
                merged.append(DeltaRun(run))
            run = [delta]
            continue
        if run:
            merged.append(DeltaRun(run))
            run = []
        merged.append(event)
    if run:
        merged.append(DeltaRun(run))
    return merged


def _continues(previous: ContentDelta, delta: ContentDelta) -> bool:
    return (
        type(previous) is type(delta)
        and previous.content_index == delta.content_index
        and previous.item_id == delta.item_id
        and previous.response_id == delta.response_id
        and previous.output_index == delta.output_index
    )
