"""Validation of incoming client events, as strict as the real server's.

Events are checked against the official schema (the ``openai`` package's
``openai.types.realtime``) when it is installed, else against this package's own
protocol models. ``input_audio_buffer.append`` is checked by hand instead: it is the
audio hot path and must not build a pydantic model per chunk.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import ValidationError

from pipecat_realtime_openai.protocol.base import WIRE_CONTEXT
from pipecat_realtime_openai.protocol.client_events import CLIENT_EVENT_TYPES
from pipecat_realtime_openai.protocol.official import (
    OfficialSchemaUnavailableError,
    official_client_event_error,
)

_APPEND = "input_audio_buffer.append"


def _own_models_error(data: dict[str, Any]) -> str | None:
    model = CLIENT_EVENT_TYPES.get(data.get("type", ""))
    if model is None:
        return f"unknown event type {data.get('type')!r}"
    try:
        model.model_validate(data, context=WIRE_CONTEXT)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        location = ".".join(str(part) for part in first["loc"]) or "<event>"
        return f"{data['type']}: {location}: {first['msg']}"
    return None


@cache
def _schema_checker() -> Callable[[dict[str, Any]], str | None]:
    try:
        official_client_event_error({"type": "input_audio_buffer.clear"})
    except OfficialSchemaUnavailableError:
        return _own_models_error
    return official_client_event_error


def decode_append_audio(data: dict[str, Any]) -> tuple[bytes | None, str | None]:
    """Check an ``input_audio_buffer.append`` by hand and decode its audio.

    Args:
        data: The event dict.

    Returns:
        ``(audio_bytes, None)`` or ``(None, problem)``.
    """
    audio = data.get("audio")
    if "audio" not in data:
        return None, f"{_APPEND}: audio: Field required"
    if not isinstance(audio, str):
        return None, f"{_APPEND}: audio: Input should be a valid string"
    event_id = data.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        return None, f"{_APPEND}: event_id: Input should be a valid string"
    try:
        return base64.b64decode(audio, validate=True), None
    except (binascii.Error, ValueError):
        return None, f"{_APPEND}: audio: invalid base64"


def client_event_error(data: Any) -> str | None:
    """Return why a decoded client event is invalid, or None when it is valid.

    Args:
        data: The decoded JSON value of one frame.
    """
    if not isinstance(data, dict):
        return "the event must be a JSON object"
    if not isinstance(data.get("type"), str):
        return "missing required parameter 'type'"
    if data["type"] == _APPEND:
        return decode_append_audio(data)[1]
    return _schema_checker()(data)


def error_code_and_param(problem: str) -> tuple[str, str | None]:
    """Guess the real server's error ``code`` and ``param`` for a validation problem.

    The real server names the kind of mistake (``missing_required_parameter``,
    ``invalid_type``, ``invalid_value``, ``unknown_parameter``) and the dotted path of
    the offending field; the validators above describe both in their message
    (``"<type>: <path>: <pydantic message>"``).

    Args:
        problem: A message returned by `client_event_error`.

    Returns:
        The error code and the parameter path (None when unknown).
    """
    parts = problem.split(": ", 2)
    param = None
    if len(parts) == 3 and parts[1] != "<event>":
        # Drop the union member names pydantic puts in the path (they start upper-case).
        param = ".".join(p for p in parts[1].split(".") if p and not p[0].isupper()) or None
    text = parts[-1].lower()
    if "does not match any of the expected tags" in text:
        return "invalid_value", "type"
    if "field required" in text or "is required" in text or "missing required" in text:
        code = "missing_required_parameter"
    elif "extra inputs" in text or "unknown parameter" in text:
        code = "unknown_parameter"
    elif "should be a valid" in text or "must be a" in text or "json object" in text:
        code = "invalid_type"
    else:
        code = "invalid_value"
    return code, param
