"""The simulated session configuration: defaults, `session.update` merging and checks.

Pure functions over plain dicts (the wire shape), so they are testable without sockets.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

DEFAULT_INSTRUCTIONS = (
    "You are a helpful, witty, and friendly AI. Act like a human, but remember that you"
    " aren't a human and that you can't do human things in the real world."
)

VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)

SESSION_MAX_SECONDS = 3600

_SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}

_SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}

_TRANSCRIPTION_DEFAULTS: dict[str, Any] = {"model": None, "language": None, "prompt": None}

# Sub-objects that a session.update replaces instead of merging key by key: a new
# audio format must not inherit the old `rate`, a new VAD type not the old knobs.
_REPLACED_OBJECTS = {
    ("audio", "input", "format"),
    ("audio", "output", "format"),
    ("audio", "input", "noise_reduction"),
}


@dataclass(frozen=True)
class ConfigError:
    """Why a session.update was refused, in the shape of the real `error` payload.

    Attributes:
        code: Error code, e.g. ``invalid_value`` or ``cannot_update_voice``.
        message: Human-readable message, worded like the real server's.
        param: Dotted path of the offending field, when there is one.
    """

    code: str
    message: str
    param: str | None = None


def default_session(model: str, session_id: str, now: float | None = None) -> dict[str, Any]:
    """Build the full session a fresh connection starts with (as in `session.created`).

    Args:
        model: Model name taken from the connection URL.
        session_id: The ``sess_...`` id of this session.
        now: Unix time used for ``expires_at`` (defaults to the current time).

    Returns:
        The session dict, shaped like the recorded real `session.created`.
    """
    started = time.time() if now is None else now
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": int(started) + SESSION_MAX_SECONDS,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(_SERVER_VAD_DEFAULTS),
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "voice": "alloy",
                "speed": 1.0,
            },
        },
        "include": None,
    }


def _merge(base: dict[str, Any], update: dict[str, Any], path: tuple[str, ...]) -> None:
    for key, value in update.items():
        here = (*path, key)
        if here == ("audio", "input", "turn_detection"):
            base[key] = _merge_turn_detection(base.get(key), value)
        elif here == ("audio", "input", "transcription"):
            base[key] = None if value is None else {**_TRANSCRIPTION_DEFAULTS, **value}
        elif (
            isinstance(value, dict)
            and isinstance(base.get(key), dict)
            and here not in _REPLACED_OBJECTS
        ):
            _merge(base[key], value, here)
        else:
            base[key] = copy.deepcopy(value)


def _merge_turn_detection(current: dict[str, Any] | None, update: Any) -> dict[str, Any] | None:
    if update is None:
        return None
    kind = update.get("type") or (current or {}).get("type") or "server_vad"
    defaults = _SEMANTIC_VAD_DEFAULTS if kind == "semantic_vad" else _SERVER_VAD_DEFAULTS
    # Same VAD type: keep the current knobs; a new type starts from its defaults.
    start = current if current is not None and current.get("type") == kind else defaults
    merged = {**defaults, **start, **update, "type": kind}
    return merged


def _check_format(fmt: dict[str, Any] | None, param: str) -> ConfigError | None:
    if not fmt:
        return None
    if fmt.get("type") == "audio/pcm" and fmt.get("rate", 24000) != 24000:
        return ConfigError(
            "invalid_value",
            f"Invalid value: '{fmt.get('rate')}'. Supported values are: '24000'.",
            param + ".rate",
        )
    return None


def apply_session_update(
    current: dict[str, Any], update: dict[str, Any], *, assistant_audio_present: bool
) -> tuple[dict[str, Any], ConfigError | None]:
    """Merge a `session.update` payload into the current session.

    Nested objects merge key by key, lists and scalars are replaced, audio formats are
    replaced whole, and switching the turn detection type starts from that type's
    defaults; ``turn_detection: null`` turns VAD off.

    Args:
        current: The effective session (left untouched).
        update: The ``session`` object of the client event.
        assistant_audio_present: Whether the conversation already holds assistant
            audio (the real server then refuses a voice change).

    Returns:
        The new effective session and ``None``, or the unchanged session and the error.
    """
    audio = update.get("audio") or {}
    error = _check_format(
        (audio.get("input") or {}).get("format"), "session.audio.input.format"
    ) or _check_format((audio.get("output") or {}).get("format"), "session.audio.output.format")
    if error:
        return current, error
    voice = (audio.get("output") or {}).get("voice")
    if voice is not None:
        # A custom voice is an object naming its id; only built-in names are listed.
        custom = isinstance(voice, dict) and isinstance(voice.get("id"), str)
        if not custom and voice not in VOICES:
            supported = ", ".join(f"'{name}'" for name in VOICES)
            return current, ConfigError(
                "invalid_value",
                f"Invalid value: '{voice}'. Supported values are: {supported}.",
                "session.audio.output.voice",
            )
        if assistant_audio_present and voice != current["audio"]["output"]["voice"]:
            return current, ConfigError(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
            )
    merged = copy.deepcopy(current)
    # The model and the session identity are fixed for the life of the connection.
    body = {k: v for k, v in update.items() if k not in ("model", "id", "object", "expires_at")}
    _merge(merged, body, ())
    return merged, None
