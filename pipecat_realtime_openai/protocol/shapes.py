"""How a GA client event is written for servers that speak another shape of the protocol.

The core decides in GA terms; these functions only re-shape what goes on the wire:

- ``ga``: OpenAI and Azure OpenAI's v1 endpoint (and Azure Voice Live): as it is.
- ``beta``: Azure's legacy preview endpoint (``/openai/realtime?api-version=...``): a
  flat session (``modalities``, ``voice``, ``input_audio_format: "pcm16"``, ...),
  ``modalities`` in ``response.create`` and the beta content types of assistant items.
- ``xai``: xAI Grok voice: no ``type`` in the session, ``voice`` and ``turn_detection``
  at its top level, ``language_hint`` for the transcription language and
  ``max_response_output_tokens``.

Every function takes and returns plain JSON-compatible dicts and works on partial
sessions too (a ``session.update`` after the first carries only what changed). Fields
a shape has no place for are left out, and each returns what it left out so the
caller can say so once.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias

WireShape: TypeAlias = Literal["ga", "beta", "xai"]
"""The shapes of the protocol this package can write."""

WIRE_SHAPES: tuple[WireShape, ...] = ("ga", "beta", "xai")
"""Every shape, in the order documented above."""

# GA audio formats and their beta names (G.711 is always 8 kHz; beta PCM is 24 kHz).
_BETA_FORMATS = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}

# GA session fields that the beta and xAI shapes have no place for.
_BETA_DROPPED = ("tracing", "include", "truncation", "prompt", "reasoning")
_XAI_DROPPED = ("output_modalities", "tracing", "include", "truncation", "prompt")

# Beta names of the content types of items a client creates.
_BETA_CONTENT_TYPES = {"output_text": "text", "output_audio": "audio"}


def _beta_format(fmt: Any) -> Any:
    if isinstance(fmt, Mapping):
        return _BETA_FORMATS.get(str(fmt.get("type")), fmt.get("type"))
    return fmt


def _beta_modalities(modalities: Any) -> Any:
    # Beta responses that speak also carry their text: ["audio"] alone is refused.
    if isinstance(modalities, list) and "audio" in modalities:
        return ["text", "audio"]
    return modalities


def beta_session(session: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Write a GA session (or part of one) in the preview endpoint's flat shape.

    Args:
        session: The GA ``session`` of a ``session.update``.

    Returns:
        The flat session, and the GA fields it has no place for (left out).
    """
    flat: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in session.items():
        if key == "type":
            continue
        if key == "output_modalities":
            flat["modalities"] = _beta_modalities(value)
        elif key == "max_output_tokens":
            flat["max_response_output_tokens"] = value
        elif key == "audio" and isinstance(value, Mapping):
            dropped.extend(_flatten_beta_audio(value, flat))
        elif key in _BETA_DROPPED:
            dropped.append(key)
        else:
            flat[key] = copy.deepcopy(value)
    return flat, dropped


def _flatten_beta_audio(audio: Mapping[str, Any], flat: dict[str, Any]) -> list[str]:
    dropped: list[str] = []
    audio_input = audio.get("input") or {}
    for key, value in audio_input.items():
        if key == "format":
            flat["input_audio_format"] = _beta_format(value)
        elif key == "transcription":
            flat["input_audio_transcription"] = copy.deepcopy(value)
        elif key == "noise_reduction":
            flat["input_audio_noise_reduction"] = copy.deepcopy(value)
        elif key == "turn_detection":
            flat["turn_detection"] = copy.deepcopy(value)
        else:
            dropped.append(f"audio.input.{key}")
    audio_output = audio.get("output") or {}
    for key, value in audio_output.items():
        if key == "format":
            flat["output_audio_format"] = _beta_format(value)
        elif key == "voice":
            flat["voice"] = copy.deepcopy(value)
        else:
            dropped.append(f"audio.output.{key}")
    return dropped


def xai_session(session: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Write a GA session (or part of one) in xAI's shape.

    Args:
        session: The GA ``session`` of a ``session.update``.

    Returns:
        xAI's session, and the GA fields it has no place for (left out).
    """
    shaped: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in session.items():
        if key == "type":
            continue
        if key == "max_output_tokens":
            shaped["max_response_output_tokens"] = value
        elif key == "audio" and isinstance(value, Mapping):
            audio = _xai_audio(value, shaped, dropped)
            if audio:
                shaped["audio"] = audio
        elif key in _XAI_DROPPED:
            dropped.append(key)
        else:
            shaped[key] = copy.deepcopy(value)
    return shaped, dropped


def _xai_audio(
    audio: Mapping[str, Any], shaped: dict[str, Any], dropped: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    audio_input = dict(audio.get("input") or {})
    if "turn_detection" in audio_input:
        detection = audio_input.pop("turn_detection")
        # xAI switches its VAD off with a null type, not a null object.
        shaped["turn_detection"] = copy.deepcopy(detection) if detection else {"type": None}
    if "noise_reduction" in audio_input:
        audio_input.pop("noise_reduction")
        dropped.append("audio.input.noise_reduction")
    transcription = audio_input.get("transcription")
    if isinstance(transcription, Mapping):
        transcription = dict(transcription)
        if "language" in transcription:
            transcription["language_hint"] = transcription.pop("language")
        for name in ("prompt",):
            if transcription.pop(name, None) is not None:
                dropped.append(f"audio.input.transcription.{name}")
        audio_input["transcription"] = transcription
    if audio_input:
        out["input"] = copy.deepcopy(audio_input)
    audio_output = dict(audio.get("output") or {})
    if "voice" in audio_output:
        shaped["voice"] = audio_output.pop("voice")
    if audio_output:
        out["output"] = copy.deepcopy(audio_output)
    return out


def _beta_item(item: Any) -> Any:
    if not isinstance(item, Mapping):
        return item
    shaped = dict(item)
    content = shaped.get("content")
    if isinstance(content, list):
        shaped["content"] = [
            {**part, "type": _BETA_CONTENT_TYPES.get(str(part.get("type")), part.get("type"))}
            if isinstance(part, Mapping)
            else part
            for part in content
        ]
    return shaped


def _response_properties(response: Any, shape: WireShape) -> Any:
    if not isinstance(response, Mapping):
        return response
    shaped = dict(response)
    modalities = shaped.pop("output_modalities", None)
    if modalities is not None and shape == "beta":
        shaped["modalities"] = _beta_modalities(modalities)
    if shape == "beta" and isinstance(shaped.get("input"), list):
        shaped["input"] = [_beta_item(item) for item in shaped["input"]]
    return shaped


def shape_client_event(
    event: Mapping[str, Any], shape: WireShape, *, response_modalities: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """Write one GA client event in a shape of the protocol.

    Args:
        event: The GA event as a wire dict.
        shape: The shape to write.
        response_modalities: Whether the server takes ``output_modalities`` in
            ``response.create`` (Azure refuses the whole response for it).

    Returns:
        The event to send, and the fields left out of it (dotted paths).
    """
    kind = event.get("type")
    if shape == "ga":
        if kind == "response.create" and not response_modalities:
            response = event.get("response")
            if isinstance(response, Mapping) and "output_modalities" in response:
                trimmed = {k: v for k, v in response.items() if k != "output_modalities"}
                return {**event, "response": trimmed}, ["response.output_modalities"]
        return dict(event), []
    if kind == "session.update":
        writer = beta_session if shape == "beta" else xai_session
        session, dropped = writer(event.get("session") or {})
        return {**event, "session": session}, [f"session.{name}" for name in dropped]
    if kind == "response.create" and "response" in event:
        dropped = []
        response = event.get("response")
        if shape == "xai" and isinstance(response, Mapping) and "output_modalities" in response:
            dropped.append("response.output_modalities")
        return {**event, "response": _response_properties(response, shape)}, dropped
    if kind == "conversation.item.create" and shape == "beta":
        return {**event, "item": _beta_item(event.get("item"))}, []
    return dict(event), []


Encoder = Callable[[Any], str]
"""Turns a client event model into the JSON text to send."""


def encoder_for(
    shape: WireShape,
    *,
    response_modalities: bool = True,
    on_dropped: Callable[[str, list[str]], None] | None = None,
) -> Encoder:
    """Return the function that writes client events in ``shape``.

    For OpenAI (``ga`` with modalities) it is the event's own ``to_json``: no copy,
    no cost. Input audio never passes through here (it has its own hot path, the
    same in every shape).

    Args:
        shape: The shape to write.
        response_modalities: See :func:`shape_client_event`.
        on_dropped: Told ``(event type, dropped fields)`` whenever fields are left out.

    Returns:
        ``encode(event) -> str``.
    """
    if shape == "ga" and response_modalities:
        return lambda event: event.to_json()

    def encode(event: Any) -> str:
        if event.type not in ("session.update", "response.create", "conversation.item.create"):
            return event.to_json()
        shaped, dropped = shape_client_event(
            event.to_dict(), shape, response_modalities=response_modalities
        )
        if dropped and on_dropped is not None:
            on_dropped(str(event.type), dropped)
        return json.dumps(shaped, separators=(",", ":"))

    return encode


def session_from_xai(session: Mapping[str, Any]) -> dict[str, Any]:
    """Read a session written in xAI's shape (Pipecat's Grok settings) as a GA session.

    The inverse of :func:`xai_session` for the fields that move: a top-level ``voice``
    and ``turn_detection`` go into ``audio``, ``language_hint`` becomes ``language``
    and ``max_response_output_tokens`` becomes ``max_output_tokens``. A GA session
    passes through unchanged.

    Args:
        session: The session in either shape.

    Returns:
        The GA session, as ``SessionProperties`` reads it (turn detection off is
        ``False``, as a caller gives it, rather than the wire's ``null``).
    """
    ga = copy.deepcopy(dict(session))
    audio = ga.get("audio")
    audio = dict(audio) if isinstance(audio, Mapping) else {}
    audio_input = dict(audio.get("input") or {})
    audio_output = dict(audio.get("output") or {})
    if "voice" in ga:
        audio_output["voice"] = ga.pop("voice")
    if "turn_detection" in ga:
        detection = ga.pop("turn_detection")
        off = detection is None or (
            isinstance(detection, Mapping) and detection.get("type") is None
        )
        # A null object or a null type both mean no server VAD (manual turns), which
        # the session model holds as False.
        audio_input["turn_detection"] = False if off else detection
    transcription = audio_input.get("transcription")
    if isinstance(transcription, Mapping) and "language_hint" in transcription:
        transcription = dict(transcription)
        transcription["language"] = transcription.pop("language_hint")
        audio_input["transcription"] = transcription
    if "max_response_output_tokens" in ga:
        ga["max_output_tokens"] = ga.pop("max_response_output_tokens")
    if audio_input:
        audio["input"] = audio_input
    if audio_output:
        audio["output"] = audio_output
    if audio:
        ga["audio"] = audio
    return ga
