"""Drop-in replacement for ``pipecat.services.openai.realtime.events``.

Migrating code changes one import::

    from pipecat_realtime_openai import events

The same public class names and constructor field names are available. Differences
from Pipecat's module (all deliberate):

* ``parse_server_event`` never raises and never returns ``None``: unknown types give
  :class:`UnknownServerEvent`, bad frames give :class:`MalformedEvent`.
* ``ClientEvent.event_id`` and ``ConversationItem.id`` are not auto-generated; unset,
  they are omitted and the server assigns item ids.
* Unset optional fields are omitted on the wire (no defaults such as ``TurnDetection``
  silence 500 ms or ``ResponseProperties.output_modalities=["audio"]`` are sent).
* ``SessionProperties.tools`` holds any value; the service converts a Pipecat
  ``ToolsSchema`` or function schemas to wire format before sending.
"""

from __future__ import annotations

from typing import Any, cast

from pipecat_realtime_openai.protocol import *  # noqa: F403
from pipecat_realtime_openai.protocol import __all__ as _protocol_names
from pipecat_realtime_openai.protocol import parse_server_event as _parse_server_event
from pipecat_realtime_openai.protocol.base import WIRE_CONTEXT, WireModel
from pipecat_realtime_openai.protocol.fast import AudioDelta, TextDelta, TranscriptDelta
from pipecat_realtime_openai.protocol.parse import ParsedServerEvent
from pipecat_realtime_openai.protocol.server_events import (
    ResponseAudioDelta,
    ResponseAudioTranscriptDelta,
    ResponseTextDelta,
)
from pipecat_realtime_openai.protocol.session import (
    DEFAULT_TRANSCRIPTION_MODEL,
    OPENAI_PCM_RATE,
    AudioFormat,
)

OPENAI_SAMPLE_RATE = OPENAI_PCM_RATE
"""Pipecat's name for the 24 kHz PCM rate."""

OPENAI_REALTIME_WHISPER_MODEL = DEFAULT_TRANSCRIPTION_MODEL
"""Pipecat's name for the default transcription model."""

_MODEL_OF_FAST_DELTA: dict[type, type[WireModel]] = {
    AudioDelta: ResponseAudioDelta,
    TranscriptDelta: ResponseAudioTranscriptDelta,
    TextDelta: ResponseTextDelta,
}


def parse_server_event(  # type: ignore[no-redef]  # replaces the star-imported one
    raw: str | bytes | dict[str, Any],
) -> ParsedServerEvent:
    """Parse a server frame into pydantic models only, as Pipecat's function does.

    Unlike :func:`pipecat_realtime_openai.protocol.parse_server_event` (the fast path
    used by the service), deltas come back as ``ResponseAudioDelta`` and friends so
    ``isinstance`` checks written for Pipecat's module keep working.

    Args:
        raw: The WebSocket text frame, its bytes, or an already-decoded dict.

    Returns:
        The event model, ``UnknownServerEvent`` or ``MalformedEvent``. Never raises.
    """
    event = _parse_server_event(raw)
    model = _MODEL_OF_FAST_DELTA.get(type(event))
    if model is not None:
        data = event.to_dict()  # type: ignore[union-attr]
        return cast(ParsedServerEvent, model.model_validate(data, context=WIRE_CONTEXT))
    return event


__all__ = [
    *_protocol_names,
    "OPENAI_REALTIME_WHISPER_MODEL",
    "OPENAI_SAMPLE_RATE",
    "AudioFormat",
]
