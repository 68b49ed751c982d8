"""Turn raw WebSocket text into event objects. Never raises: bad input becomes a value.

Servers that bend the schema do not cost the service the event. When a known server
event fails validation, every field that is in the way and not needed (see
:mod:`~pipecat_realtime_openai.protocol.server_events` for what each event needs) is
set aside, at its place however deeply nested, and the rest validated again: the
event comes out with those fields unset, :func:`bent_fields` names them, and
``to_dict()`` puts them back, so the event serialises exactly as it came. Only a
needed field that is missing or unusable makes the event a :class:`MalformedEvent`.
This costs nothing on the normal path: it starts only after a validation error.

Values pydantic reads without loss in lax mode (``1200.0`` or ``"1200"`` for an
integer, ``1`` for a boolean) are taken as read, not set aside; ``to_dict()`` gives
them back in the model's type.

Beta event names (:data:`~pipecat_realtime_openai.protocol.beta.BETA_EVENT_NAMES`)
are read as their GA events; they are looked up only for types with no GA model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias, cast

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, from_json

from pipecat_realtime_openai.protocol.base import (
    WIRE_CONTEXT,
    Bent,
    PathKey,
    WireModel,
    attach_bent,
    bent_record,
)
from pipecat_realtime_openai.protocol.beta import BETA_EVENT_NAMES
from pipecat_realtime_openai.protocol.client_events import CLIENT_EVENT_TYPES, ClientEvent
from pipecat_realtime_openai.protocol.fast import (
    FAST_DELTA_TYPES,
    AudioDelta,
    ContentDelta,
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

SALVAGE_ROUNDS = 16
"""Most validations a bent event gets before it is given up as malformed."""


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
    no pydantic); everything else becomes the pydantic model of its type. Beta event
    names become their GA events. A known event with bent optional fields keeps them
    aside (see the module docstring and :func:`bent_fields`).

    Args:
        raw: The WebSocket text frame, its bytes, or an already-decoded dict.

    Returns:
        The event model; :class:`UnknownServerEvent` for types without a model;
        :class:`MalformedEvent` for anything that is not a valid event (a needed field
        missing or unusable, named in the reason). Never raises.
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
        return _parse_delta(fast_cls, data, data, raw)
    cls = SERVER_EVENT_TYPES.get(event_type)
    if cls is not None:
        return _parse_model(cls, data, raw)
    ga_type = BETA_EVENT_NAMES.get(event_type)
    if ga_type is not None:
        return _parse_beta(ga_type, data, raw)
    return _parse_model(UnknownServerEvent, data, raw)


def bent_fields(event: object) -> tuple[str, ...]:
    """Name the fields a parse had to set aside or fill in to understand an event.

    Args:
        event: Anything :func:`parse_server_event` returned.

    Returns:
        Dotted paths (``"response.voice"``, ``"item.content.0.type"``, list indices as
        numbers) of the fields that were set aside because they were unusable;
        ``"type"`` first when a beta name was normalised. Empty for events that
        validated as they came (and for unknown and malformed ones).
    """
    if isinstance(event, ContentDelta):
        patched = event.patched
        if not patched:
            return ()
        source = event._fields_source or {}
        return tuple(name for name in patched if name == "type" or name in source)
    if isinstance(event, BaseModel):
        record = bent_record(event)
        if record is not None:
            return record.paths
    return ()


def received_type(event: object) -> str | None:
    """Return the event name as the server sent it.

    Args:
        event: Anything :func:`parse_server_event` returned.

    Returns:
        The beta name of a normalised event, else the event's ``type`` (None for a
        :class:`MalformedEvent`).
    """
    if isinstance(event, ContentDelta):
        source = event._fields_source
        if "type" in event.patched and source is not None:
            return cast(str, source["type"])
        return event.type
    if isinstance(event, BaseModel):
        record = bent_record(event)
        if record is not None and record.received_type is not None:
            return record.received_type
        event_type = getattr(event, "type", None)
        return event_type if isinstance(event_type, str) else None
    return None


@cache
def needed_fields(cls: type[BaseModel]) -> frozenset[str]:
    """Return the fields without which an event of this class is malformed.

    They are the fields its model requires (``type`` and ``event_id`` aside), and,
    inside a required object, the fields that object's model requires (the ``type``
    of a conversation item).

    Args:
        cls: A server event class, e.g. ``ResponseDone``.

    Returns:
        Dotted paths, e.g. ``{"item", "item.type"}`` for ``ConversationItemAdded``.
    """
    needed: set[str] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            if not field.is_required() or (not prefix and name in ("type", "event_id")):
                continue
            needed.add(prefix + name)
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name}.")

    walk(cls, "")
    return frozenset(needed)


def _parse_delta(
    fast_cls: type[ContentDelta],
    data: dict[str, Any],
    received: dict[str, Any],
    raw: Any,
) -> ParsedServerEvent:
    # Off the hot path: the strict reading refused the delta.
    fast = fast_cls.from_wire_tolerant(data)
    if fast is not None:
        if received is not data:
            fast.renamed_from(received)
        return cast(AudioDelta | TranscriptDelta | TextDelta, fast)
    # A needed field is off: validation says which.
    return _parse_model(SERVER_EVENT_TYPES[fast_cls.type], data, raw, received)


def _parse_beta(ga_type: str, data: dict[str, Any], raw: Any) -> ParsedServerEvent:
    fast_cls = FAST_DELTA_TYPES.get(ga_type)
    if fast_cls is not None:
        # from_wire does not read the type: the beta delta takes the same fast path.
        fast = fast_cls.from_wire(data)
        if fast is not None:
            fast.renamed_from(data)
            return cast(AudioDelta | TranscriptDelta | TextDelta, fast)
        return _parse_delta(fast_cls, {**data, "type": ga_type}, data, raw)
    return _parse_model(SERVER_EVENT_TYPES[ga_type], {**data, "type": ga_type}, raw, data)


def _parse_model(
    cls: type[ServerEvent],
    data: dict[str, Any],
    raw: Any,
    received: dict[str, Any] | None = None,
) -> ParsedServerEvent:
    """Validate ``data`` as ``cls``, salvaging it if needed.

    ``received`` is the event as it came when ``data`` is its GA-named copy.
    """
    try:
        event = cls.model_validate(data, context=WIRE_CONTEXT)
    except ValidationError as exc:
        return _salvage(cls, data, raw, exc, received)
    except (TypeError, ValueError, RecursionError) as exc:
        return MalformedEvent(f"invalid {data['type']}: {type(exc).__name__}", excerpt(raw))
    if received is not None:
        attach_bent(event, Bent(("type",), received_type=received["type"]))
    return event


# -- salvage ---------------------------------------------------------------------------


_Path: TypeAlias = tuple[PathKey, ...]


@dataclass(frozen=True, slots=True)
class _Problem:
    """One validation error, placed in the data.

    ``remove`` is what to set aside to get past it; ``group`` is the value the error
    is about when it came from one branch of a union (errors of one union are
    alternatives: one of them is dealt with per round).
    """

    failing: _Path
    remove: _Path
    group: _Path
    message: str


def _dotted(path: _Path) -> str:
    return ".".join(str(key) for key in path) or "<event>"


def _place(error: ErrorDetails, data: dict[str, Any]) -> _Problem:
    """Follow an error's location through the data it is about."""
    path: list[PathKey] = []
    current: Any = data
    union_at: int | None = None
    loc = error["loc"]
    for step in loc:
        if isinstance(current, dict) and isinstance(step, str) and step in current:
            path.append(step)
            current = current[step]
        elif isinstance(current, list) and type(step) is int and 0 <= step < len(current):
            path.append(step)
            current = current[step]
        elif union_at is None:
            # Not in the data: the tag of a union member, or a missing field's name.
            union_at = len(path)
    placed = tuple(path)
    group = placed[:union_at] if union_at is not None else placed
    if error["type"] == "missing" and loc and isinstance(loc[-1], str):
        # A required field is absent: what holds it has to go.
        return _Problem((*placed, loc[-1]), _removable(placed), group, error["msg"])
    remove = placed
    if (
        union_at is not None
        and union_at < len(placed)
        and placed[-1] == "type"
        and error["type"] == "literal_error"
    ):
        # A union member whose type does not match: the value is another kind of
        # thing, not one with a bent type. Setting the type aside would let a default
        # type pass it off as this member.
        remove = placed[:-1]
    return _Problem(placed, _removable(remove), group, error["msg"])


def _removable(path: _Path) -> _Path:
    # List items are never set aside (the rest would shift): their list goes instead.
    while path and isinstance(path[-1], int):
        path = path[:-1]
    return path


def _without(data: Any, path: _Path) -> Any:
    """Return ``data`` without the value at ``path``, copying only what leads to it."""
    key = path[0]
    copied = dict(data) if isinstance(data, dict) else list(data)
    if len(path) == 1:
        del copied[key]  # type: ignore[arg-type]
    else:
        copied[key] = _without(data[key], path[1:])  # type: ignore[index]
    return copied


def _value_at(data: Any, path: _Path) -> Any:
    for key in path:
        data = data[key]
    return data


@cache
def _required_top(cls: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, field in cls.model_fields.items() if field.is_required())


def _salvage(
    cls: type[ServerEvent],
    data: dict[str, Any],
    raw: Any,
    exc: ValidationError,
    received: dict[str, Any] | None,
) -> ServerEvent | MalformedEvent:
    """Set aside the fields in the way until the event validates, or give it up."""
    required = _required_top(cls)
    event_type = data["type"] if received is None else received["type"]
    removed: dict[_Path, Any] = {}
    messages: dict[_Path, str] = {}
    working: dict[str, Any] = data
    for _ in range(SALVAGE_ROUNDS):
        chosen: dict[_Path, _Problem] = {}
        for error in exc.errors(include_url=False, include_input=False):
            problem = _place(error, working)
            messages.setdefault(problem.failing, problem.message)
            best = chosen.get(problem.group)
            # Of a union's alternatives, set aside the least: the deepest.
            if best is None or len(problem.remove) > len(best.remove):
                chosen[problem.group] = problem
        for problem in chosen.values():
            remove = problem.remove
            if not remove or (len(remove) == 1 and remove[0] in required):
                message = messages.get(problem.failing, problem.message)
                reason = f"invalid {event_type}: {_dotted(problem.failing)}: {message}"
                return MalformedEvent(reason, excerpt(raw))
        for remove in sorted({problem.remove for problem in chosen.values()}, key=len):
            if any(remove[: len(done)] == done for done in removed):
                continue  # inside a field already set aside
            for done in [done for done in removed if done[: len(remove)] == remove]:
                del removed[done]  # the new one holds it
            removed[remove] = _value_at(data, remove)
            working = _without(working, remove)
        try:
            event = cls.model_validate(working, context=WIRE_CONTEXT)
        except ValidationError as again:
            exc = again
            continue
        except (TypeError, ValueError, RecursionError) as error:
            return MalformedEvent(f"invalid {event_type}: {type(error).__name__}", excerpt(raw))
        paths = tuple(_dotted(path) for path in removed)
        if received is not None:
            paths = ("type", *paths)
        record = Bent(
            paths,
            tuple(removed.items()),
            received_type=received["type"] if received is not None else None,
        )
        attach_bent(event, record)
        return event
    return MalformedEvent(f"invalid {event_type}: too many invalid fields", excerpt(raw))


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
