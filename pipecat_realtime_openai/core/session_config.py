"""Session configuration decisions: what goes in each ``session.update``, and what it implies.

Pure logic, no I/O and no Pipecat: the service turns its settings into a wire dict
(:func:`session_wire_dict` plus tools and
instructions), and :class:`SessionConfigState` decides what must actually be sent
given what the server was already told.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.protocol.base import WIRE_CONTEXT
from pipecat_realtime_openai.protocol.session import (
    DEFAULT_TRANSCRIPTION_MODEL,
    Modality,
    SessionProperties,
)

REASONING_MODEL_MARKERS = ("gpt-realtime-2",)
"""Substrings of model names that accept ``reasoning`` (dated variants match too)."""

_PCM_24K = AudioFormatSpec.from_session_format({"type": "audio/pcm", "rate": 24000})


@dataclass(frozen=True, slots=True)
class SessionUpdatePlan:
    """The outcome of planning a ``session.update``.

    Attributes:
        session: The session object to send, or None when nothing changed.
        warnings: Human-readable notes about settings that were dropped.
    """

    session: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)


def _audio_part(props: SessionProperties, side: str) -> Any:
    audio = props.audio
    return getattr(audio, side, None) if audio is not None else None


def turn_detection_disabled(props: SessionProperties) -> bool:
    """Tell whether server turn detection is explicitly off (manual turn mode).

    ``turn_detection=False`` is the opt-out; ``None`` keeps the server default, which
    is server VAD.

    Args:
        props: The session configuration.

    Returns:
        True in manual turn mode.
    """
    audio_input = _audio_part(props, "input")
    return audio_input is not None and audio_input.turn_detection is False


def _server_vad_option(props: SessionProperties, option: str) -> bool:
    # Server turn detection is on unless turned off (False); an option of it is on
    # unless explicitly False (None and unset take the server's default, which is on).
    audio_input = _audio_part(props, "input")
    detection = audio_input.turn_detection if audio_input is not None else None
    if detection is False:
        return False
    return detection is None or getattr(detection, option, None) is not False


def server_interrupts_replies(props: SessionProperties) -> bool:
    """Tell whether server VAD cancels the reply in progress when the user starts talking.

    Args:
        props: The session configuration the server holds.

    Returns:
        False in manual turn mode and when ``interrupt_response`` is turned off.
    """
    return _server_vad_option(props, "interrupt_response")


def server_answers_turns(props: SessionProperties) -> bool:
    """Tell whether server VAD answers each committed user turn by itself.

    Args:
        props: The session configuration the server holds.

    Returns:
        True with server turn detection whose ``create_response`` is not turned off.
    """
    return _server_vad_option(props, "create_response")


def input_format(props: SessionProperties) -> AudioFormatSpec:
    """Return the wire format of audio sent to the server (pcm 24 kHz unless set)."""
    audio_input = _audio_part(props, "input")
    if audio_input is None or audio_input.format is None:
        return _PCM_24K
    return AudioFormatSpec.from_session_format(audio_input.format)


def output_format(props: SessionProperties) -> AudioFormatSpec:
    """Return the wire format of audio received from the server (pcm 24 kHz unless set)."""
    audio_output = _audio_part(props, "output")
    if audio_output is None or audio_output.format is None:
        return _PCM_24K
    return AudioFormatSpec.from_session_format(audio_output.format)


def response_modalities(props: SessionProperties) -> list[Modality]:
    """Return the single output modality responses use.

    The API answers in audio (with a transcript) or in text, never both; audio wins
    when both are configured, as in Pipecat's built-in service.

    Args:
        props: The session configuration.

    Returns:
        ``["audio"]`` or ``["text"]``.
    """
    modalities = props.output_modalities or ["audio"]
    return ["audio"] if "audio" in modalities else ["text"]


def transcription_language(props: SessionProperties) -> str | None:
    """Return the configured input transcription language code, if any."""
    audio_input = _audio_part(props, "input")
    transcription = audio_input.transcription if audio_input is not None else None
    return transcription.language if transcription is not None else None


def accepts_reasoning(model: str | None) -> bool:
    """Tell whether a model takes the ``reasoning`` session field.

    Args:
        model: The model name from the connection URL.

    Returns:
        True for reasoning-capable realtime models.
    """
    return model is not None and any(marker in model for marker in REASONING_MODEL_MARKERS)


def without_unsupported_fields(
    session: Mapping[str, Any], model: str | None
) -> tuple[dict[str, Any], list[str]]:
    """Drop fields the server would reject for this model, explaining each drop.

    The server rejects a whole ``session.update`` for one bad field, which can leave
    the session unconfigured, so offending fields are removed with a warning instead.

    Args:
        session: The desired session wire dict.
        model: The connection's model.

    Returns:
        The cleaned copy, and one warning per dropped field.
    """
    cleaned = copy.deepcopy(dict(session))
    warnings: list[str] = []
    if cleaned.get("reasoning") is not None and not accepts_reasoning(model):
        del cleaned["reasoning"]
        warnings.append(
            f"'reasoning' is not supported by model {model!r}; it was left out of the session."
        )
    transcription = cleaned.get("audio", {}).get("input", {}).get("transcription")
    if (
        isinstance(transcription, dict)
        and transcription.get("model") == DEFAULT_TRANSCRIPTION_MODEL
        and transcription.get("prompt")
    ):
        del transcription["prompt"]
        warnings.append(
            f"{DEFAULT_TRANSCRIPTION_MODEL} does not support a transcription prompt; "
            "the prompt was left out."
        )
    return cleaned, warnings


# Fields of the session object that only the server fills in; a client never sends them.
_SERVER_ONLY_FIELDS = ("object", "id", "expires_at")

# Session objects the server merges key by key (everything else it replaces whole).
_MERGED_CONTAINERS = frozenset({"audio", "input", "output"})


def _merge(base: dict[str, Any], diff: Mapping[str, Any]) -> None:
    for key, value in diff.items():
        if (
            key in _MERGED_CONTAINERS
            and isinstance(value, Mapping)
            and isinstance(base.get(key), dict)
        ):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def session_wire_dict(props: SessionProperties) -> dict[str, Any]:
    """Return the client-sendable wire dict of a session, without its tools.

    Server-only fields (``id``, ``object``, ``expires_at``) and ``model`` (fixed by the
    connection URL) are dropped; tools are left out because they need the Pipecat
    adapter to become wire dicts.

    Args:
        props: The session configuration.

    Returns:
        The JSON-compatible dict.
    """
    data = props.model_copy(update={"tools": None}).to_dict()
    data.pop("tools", None)
    data.pop("model", None)
    for name in _SERVER_ONLY_FIELDS:
        data.pop(name, None)
    return data


def session_diff(previous: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """Return the part of ``desired`` that differs from ``previous``.

    The containers ``audio``, ``audio.input`` and ``audio.output`` are compared key by
    key so that changing only the voice sends only ``audio.output.voice``; every other
    value (a format, a turn detection object, the tool list) is compared and sent
    whole, because the server replaces those objects rather than merging them. Keys
    absent from ``desired`` are not reported: the server keeps a value until it is
    given a new one.

    Args:
        previous: The session as last sent (wire dict).
        desired: The session as it should now be (wire dict).

    Returns:
        A wire dict holding only what changed; empty when nothing did.
    """
    diff: dict[str, Any] = {}
    for key, value in desired.items():
        if key not in previous:
            diff[key] = value
            continue
        old = previous[key]
        if key in _MERGED_CONTAINERS and isinstance(value, Mapping) and isinstance(old, Mapping):
            nested = session_diff(old, value)
            if nested:
                diff[key] = nested
        elif value != old:
            diff[key] = value
    return diff


class SessionConfigState:
    """What the server has been told about the session, for one connection.

    The first update of a connection carries the whole configuration; later ones
    carry only what changed (see :func:`session_diff`).
    The voice is dropped from updates once the session produced audio, because the
    server refuses to change it then.
    """

    def __init__(self) -> None:
        self._sent: dict[str, Any] | None = None
        self._effective: SessionProperties | None = None
        self._audio_produced = False

    @property
    def sent(self) -> dict[str, Any] | None:
        """The session as the server was told so far (merged), or None before the first."""
        return copy.deepcopy(self._sent) if self._sent is not None else None

    @property
    def has_sent(self) -> bool:
        """Whether this connection's first ``session.update`` went out."""
        return self._sent is not None

    @property
    def audio_produced(self) -> bool:
        """Whether the session has produced assistant audio (the voice is now fixed)."""
        return self._audio_produced

    def mark_audio_produced(self) -> None:
        """Record that the model spoke; later voice changes are refused."""
        self._audio_produced = True

    def reset(self) -> None:
        """Forget everything: a new connection starts from the server defaults."""
        self._sent = None
        self._effective = None
        self._audio_produced = False

    def effective(self, configured: SessionProperties) -> SessionProperties:
        """Return the configuration the server works with.

        A settings update replaces the stored session object wholesale, so it can
        omit keys the server still holds (say, turn detection switched off); the
        server keeps those. Local decisions (turn mode, audio formats) must follow the
        server, so they read this merged view once something was sent.

        Args:
            configured: The session in the settings (used before the first update).

        Returns:
            The merged configuration as sent, or ``configured`` before any update.
        """
        sent = self.sent_session()
        return sent if sent is not None else configured

    def sent_session(self) -> SessionProperties | None:
        """The session as the server was told it (merged), or None before the first update."""
        if self._sent is None:
            return None
        if self._effective is None:
            self._effective = SessionProperties.model_validate(self._sent, context=WIRE_CONTEXT)
        return self._effective

    def plan(self, desired: Mapping[str, Any], model: str | None) -> SessionUpdatePlan:
        """Decide the next ``session.update``.

        Args:
            desired: The full session wire dict the client wants now.
            model: The connection's model (for fields only some models accept).

        Returns:
            The session object to send (always with ``type``) or None when the server
            already has this configuration, plus warnings about dropped fields.
        """
        cleaned, warnings = without_unsupported_fields(desired, model)
        if self._sent is None:
            return SessionUpdatePlan(cleaned, warnings)
        diff = session_diff(self._sent, cleaned)
        voice = diff.get("audio", {}).get("output", {}).get("voice")
        if voice is not None and self._audio_produced:
            output = diff["audio"]["output"]
            del output["voice"]
            if not output:
                del diff["audio"]["output"]
            if not diff["audio"]:
                del diff["audio"]
            warnings.append(
                f"The voice cannot change after the session produced audio; "
                f"{voice!r} takes effect on the next connection."
            )
        diff.pop("type", None)
        if not diff:
            return SessionUpdatePlan(None, warnings)
        return SessionUpdatePlan({"type": cleaned.get("type", "realtime"), **diff}, warnings)

    def on_sent(self, session: Mapping[str, Any]) -> None:
        """Record a session object that was sent.

        Args:
            session: The ``session`` of the ``session.update`` just sent.
        """
        if self._sent is None:
            self._sent = copy.deepcopy(dict(session))
        else:
            _merge(self._sent, session)
        self._effective = None
