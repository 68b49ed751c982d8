"""Turn raw WebSocket text into event objects. Never raises: bad input becomes a value."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, cast

from pydantic import ValidationError
from pydantic_core import from_json

from pipecat_realtime_openai.protocol.base import WIRE_CONTEXT, WireModel
from pipecat_realtime_openai.protocol.client_events import CLIENT_EVENT_TYPES, ClientEvent
from pipecat_realtime_openai.protocol.fast import (
    FAST_DELTA_TYPES,
    AudioDelta,
    TextDelta,
    TranscriptDelta,
)
from pipecat_realtime_openai.protocol.server_events import (
    SERVER_EVENT_TYPES,
    ServerEvent,
    UnknownServerEvent,
)

EXCERPT_CHARS = 200
"""Longest ``MalformedEvent.raw_excerpt``."""

# Runs of base64 alphabet this long are audio or images, never something a reader needs.
_PAYLOAD_RUN = re.compile(r"[A-Za-z0-9+/=_-]{48,}")


@dataclass(frozen=True, slots=True)
class MalformedEvent:
    """A frame that could not be understood.

    Attributes:
        reason: What was wrong (bad JSON, not an object, no type, invalid fields).
        raw_excerpt: The start of the frame, with long base64-like payloads elided,
            at most ``EXCERPT_CHARS`` characters: safe to log.
    """

    reason: str
    raw_excerpt: str


class UnknownClientEvent(ClientEvent):
    """A client event of a type this package has no model for; keeps every field."""


ParsedServerEvent = (
    ServerEvent | AudioDelta | TranscriptDelta | TextDelta | UnknownServerEvent | MalformedEvent
)
"""Everything :func:`parse_server_event` can return."""

ParsedClientEvent = ClientEvent | UnknownClientEvent | MalformedEvent
"""Everything :func:`parse_client_event` can return."""


def excerpt(raw: Any) -> str:
    """Return a short, log-safe excerpt of a frame.

    Args:
        raw: The frame (text, bytes, or an already-decoded object).

    Returns:
        At most ``EXCERPT_CHARS`` characters, with base64-like runs replaced by
        ``<N chars>`` so audio never reaches a log.
    """
    if isinstance(raw, bytes | bytearray | memoryview):
        text = bytes(raw[: EXCERPT_CHARS * 50]).decode("utf-8", errors="replace")
    elif isinstance(raw, str):
        text = raw[: EXCERPT_CHARS * 50]
    else:
        try:
            text = json.dumps(raw, default=repr)
        except (TypeError, ValueError, RecursionError):
            text = repr(raw)
    text = _PAYLOAD_RUN.sub(lambda match: f"<{len(match.group())} chars>", text)
    if len(text) > EXCERPT_CHARS:
        return text[: EXCERPT_CHARS - 3] + "..."
    return text


def _decode(raw: str | bytes | dict[str, Any]) -> dict[str, Any] | MalformedEvent:
    if isinstance(raw, dict):
        data: Any = raw
    else:
        try:
            # pydantic_core's JSON reader (jiter) decodes a 20 ms audio delta about 3x
            # faster than json.loads; it only builds dicts and lists, no models.
            data = from_json(raw)
        except (ValueError, TypeError, RecursionError) as exc:
            # Decoder messages give a position, never the frame's content.
            detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            return MalformedEvent(f"invalid JSON: {detail}", excerpt(raw))
    if not isinstance(data, dict):
        return MalformedEvent(f"not a JSON object but {type(data).__name__}", excerpt(raw))
    event_type = data.get("type")
    if not isinstance(event_type, str):
        return MalformedEvent("missing or non-string 'type'", excerpt(raw))
    return data


def _validate(cls: type[WireModel], data: dict[str, Any], raw: Any) -> WireModel | MalformedEvent:
    try:
        return cls.model_validate(data, context=WIRE_CONTEXT)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        location = ".".join(str(part) for part in first["loc"]) or "<event>"
        reason = f"invalid {data['type']}: {location}: {first['msg']}"
        return MalformedEvent(reason, excerpt(raw))
    except (TypeError, ValueError, RecursionError) as exc:
        return MalformedEvent(f"invalid {data['type']}: {type(exc).__name__}", excerpt(raw))


def parse_server_event(raw: str | bytes | dict[str, Any]) -> ParsedServerEvent:
    """Parse one server frame.

    Audio, audio-transcript and text deltas take the fast path (plain objects,
    no pydantic); everything else becomes the pydantic model of its type.

    Args:
        raw: The WebSocket text frame, its bytes, or an already-decoded dict.

    Returns:
        The event model; :class:`UnknownServerEvent` for types without a model;
        :class:`MalformedEvent` for anything that is not a valid event. Never raises.
    """
    data = _decode(raw)
    if isinstance(data, MalformedEvent):
        return data
    event_type = data["type"]
    fast_cls = FAST_DELTA_TYPES.get(event_type)
    if fast_cls is not None:
        fast = fast_cls.from_wire(data)
        if fast is not None:
            # from_wire returns an instance of the class it is called on.
            return cast(AudioDelta | TranscriptDelta | TextDelta, fast)
    cls = SERVER_EVENT_TYPES.get(event_type, UnknownServerEvent)
    return _validate(cls, data, raw)  # type: ignore[return-value]


def parse_client_event(raw: str | bytes | dict[str, Any]) -> ParsedClientEvent:
    """Parse one client frame (used by the simulator and by replay tests).

    Args:
        raw: The WebSocket text frame, its bytes, or an already-decoded dict.

    Returns:
        The event model; :class:`UnknownClientEvent` for types without a model;
        :class:`MalformedEvent` for anything that is not a valid event. Never raises.
    """
    data = _decode(raw)
    if isinstance(data, MalformedEvent):
        return data
    cls = CLIENT_EVENT_TYPES.get(data["type"], UnknownClientEvent)
    return _validate(cls, data, raw)  # type: ignore[return-value]
