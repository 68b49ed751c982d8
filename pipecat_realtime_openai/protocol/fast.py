"""Hot-path codec for audio and text streaming: plain ``__slots__`` objects, no pydantic.

A voice session carries ~50 audio deltas per second each way. These helpers keep the
per-chunk cost to one ``json.loads`` (receive) or one string concatenation (send).
"""

from __future__ import annotations

import binascii
import json
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


class _ContentDelta:
    """A streamed chunk of one content part of a response item."""

    __slots__ = ("_fields_source", "content_index", "delta", "event_id", "item_id",
                 "output_index", "response_id")  # fmt: skip

    type: ClassVar[str]
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
    def from_wire(cls, data: dict[str, Any]) -> _ContentDelta | None:
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
            and (event_id is None or type(event_id) is str)
        ):
            return None
        source = data if len(data) != 6 + ("event_id" in data) else None
        return cls(response_id, item_id, output_index, content_index, delta, event_id, source)

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
        extra = self.extra
        if extra:
            data.update(extra)
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


class AudioDelta(_ContentDelta):
    """``response.output_audio.delta``: a chunk of the model's audio (base64 in ``delta``)."""

    __slots__ = ()
    type: ClassVar[str] = "response.output_audio.delta"

    def audio(self) -> bytes:
        """Decode the audio chunk.

        Returns:
            The raw audio bytes in the session's output format.
        """
        return binascii.a2b_base64(self.delta)


class TranscriptDelta(_ContentDelta):
    """``response.output_audio_transcript.delta``: a chunk of the spoken reply's transcript."""

    __slots__ = ()
    type: ClassVar[str] = "response.output_audio_transcript.delta"


class TextDelta(_ContentDelta):
    """``response.output_text.delta``: a chunk of a text reply."""

    __slots__ = ()
    type: ClassVar[str] = "response.output_text.delta"


FAST_DELTA_TYPES: dict[str, type[_ContentDelta]] = {
    AudioDelta.type: AudioDelta,
    TranscriptDelta.type: TranscriptDelta,
    TextDelta.type: TextDelta,
}
"""Event types decoded on the fast path, by wire ``type``."""
