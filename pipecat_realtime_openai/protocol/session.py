"""The Realtime session object (``session.update`` / ``session.created`` / ``session.updated``).

Field names are the GA wire names. Class names match Pipecat's built-in
``pipecat.services.openai.realtime.events`` so migrating code only changes an import.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from pydantic import ValidationInfo, field_serializer, field_validator

from pipecat_realtime_openai.protocol.base import WireModel

Modality: TypeAlias = Literal["text", "audio"]
"""An output modality the model can answer with."""

ImageDetail: TypeAlias = Literal["auto", "low", "high"]
"""How closely the model looks at an input image."""

Voice: TypeAlias = (
    Literal["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]
    | str
    | dict[str, Any]
)
"""A built-in voice name; other strings for newer voices and other providers; an object for
a custom voice (``{"id": "voice_..."}``) or an Azure Voice Live voice
(``{"name": "en-US-Ava:DragonHDLatestNeural", "type": "azure-standard"}``)."""

ToolChoice: TypeAlias = Literal["auto", "none", "required"] | dict[str, Any]
"""``auto``/``none``/``required`` or a dict naming one function or MCP tool."""

MaxOutputTokens: TypeAlias = int | Literal["inf"]
"""A token limit (1..4096) or ``"inf"``."""

OPENAI_PCM_RATE = 24000
"""The only sample rate OpenAI accepts for ``audio/pcm``."""

DEFAULT_REALTIME_MODEL = "gpt-realtime-2.1"
"""The current realtime model, used when none is configured."""

DEFAULT_TRANSCRIPTION_MODEL = "gpt-realtime-whisper"
"""Transcription model used when none is given (same default as Pipecat's built-in service)."""


class PCMAudioFormat(WireModel):
    """16-bit little-endian mono PCM.

    Parameters:
        type: Always ``"audio/pcm"``.
        rate: Sample rate in Hz. OpenAI only accepts 24000; other values are kept
            (rather than rejected) because compatible providers accept other rates.
    """

    type: Literal["audio/pcm"] = "audio/pcm"
    rate: int = OPENAI_PCM_RATE


class PCMUAudioFormat(WireModel):
    """G.711 mu-law at 8 kHz.

    Parameters:
        type: Always ``"audio/pcmu"``.
    """

    type: Literal["audio/pcmu"] = "audio/pcmu"


class PCMAAudioFormat(WireModel):
    """G.711 A-law at 8 kHz.

    Parameters:
        type: Always ``"audio/pcma"``.
    """

    type: Literal["audio/pcma"] = "audio/pcma"


AudioFormat: TypeAlias = PCMAudioFormat | PCMUAudioFormat | PCMAAudioFormat
"""Any of the three audio formats the GA API supports."""


class InputAudioTranscription(WireModel):
    """Transcription of the user's audio (runs asynchronously beside the model).

    Parameters:
        model: Transcription model (or, on Azure, a deployment name).
        language: ISO-639-1 language hint, e.g. ``"en"``.
        prompt: Free-text hint for the transcriber.
    """

    model: str | None = DEFAULT_TRANSCRIPTION_MODEL
    language: str | None = None
    prompt: str | None = None


class InputAudioNoiseReduction(WireModel):
    """Noise reduction applied to input audio before VAD and the model.

    Parameters:
        type: ``"near_field"`` (headsets) or ``"far_field"`` (laptops, rooms).
    """

    type: Literal["near_field", "far_field"] | None = None


class TurnDetection(WireModel):
    """Server VAD: turns end after a period of silence.

    Unset fields are omitted so the server's defaults apply (threshold 0.5, prefix
    300 ms, silence 200 ms). Pipecat's built-in model instead sends 0.5/300/500 from a
    bare ``TurnDetection()``; pass those values explicitly to keep that behaviour.

    Parameters:
        type: Always ``"server_vad"``.
        threshold: Activation threshold 0..1; higher needs louder audio.
        prefix_padding_ms: Audio kept before detected speech.
        silence_duration_ms: Silence that ends a turn.
        idle_timeout_ms: Ask the model to respond after this much idle time.
        create_response: Whether the server answers automatically at turn end.
        interrupt_response: Whether user speech interrupts a running response.
    """

    type: Literal["server_vad"] = "server_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    idle_timeout_ms: int | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


class SemanticTurnDetection(WireModel):
    """Semantic VAD: a model judges whether the user finished speaking.

    Parameters:
        type: Always ``"semantic_vad"``.
        eagerness: How quickly to take the turn (``auto`` is ``medium``).
        create_response: Whether the server answers automatically at turn end.
        interrupt_response: Whether user speech interrupts a running response.
    """

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


class ProviderTurnDetection(WireModel):
    """Turn detection of a type OpenAI does not define (e.g. Azure's ``azure_semantic_vad``).

    Its options pass through as they are; the service treats it as server VAD.

    Parameters:
        type: The provider's VAD type.
        create_response: Whether the server answers automatically at turn end.
        interrupt_response: Whether user speech interrupts a running response.
    """

    type: str
    create_response: bool | None = None
    interrupt_response: bool | None = None


class AudioInput(WireModel):
    """Input side of the audio configuration.

    Parameters:
        format: Format of the audio the client sends.
        transcription: Input transcription settings; ``None`` leaves it unchanged.
        noise_reduction: Noise reduction settings.
        turn_detection: VAD settings. ``False`` turns detection off (sent as JSON
            ``null``); ``None`` or unset leaves the server's setting unchanged
            (omitted), as in Pipecat's built-in service. Wire data parsed with
            :data:`~pipecat_realtime_openai.protocol.base.WIRE_CONTEXT` reads ``null``
            as ``False``.
    """

    format: AudioFormat | None = None
    transcription: InputAudioTranscription | None = None
    noise_reduction: InputAudioNoiseReduction | None = None
    turn_detection: (
        TurnDetection | SemanticTurnDetection | ProviderTurnDetection | Literal[False] | None
    ) = None

    @field_validator("turn_detection", mode="before")
    @classmethod
    def _wire_null_is_off(cls, value: Any, info: ValidationInfo) -> Any:
        # On the wire null means detection is off: normalise to False so readers see
        # one "off" value (it is sent as null again). A caller's None keeps the
        # built-in service's meaning: not set.
        if value is None and info.context and info.context.get("wire"):
            return False
        return value

    @field_serializer("turn_detection", mode="wrap")
    def _turn_detection_off_is_null(self, value: Any, handler: Any) -> Any:
        # The wire has no "false": an explicit null is how turn detection is disabled.
        if value is False:
            return None
        return handler(value)

    def model_post_init(self, context: Any, /) -> None:
        """Mark ``turn_detection=False`` as set (sent as ``null``) and ``None`` as unset."""
        if self.turn_detection is False:
            self.model_fields_set.add("turn_detection")
        elif self.turn_detection is None:
            self.model_fields_set.discard("turn_detection")


class AudioOutput(WireModel):
    """Output side of the audio configuration.

    Parameters:
        format: Format of the audio the server sends back.
        voice: Voice of the model (fixed once the session has produced audio).
        speed: Playback speed 0.25..1.5.
    """

    format: AudioFormat | None = None
    voice: Voice | None = None
    speed: float | None = None


class AudioConfiguration(WireModel):
    """Audio configuration of a session or response.

    Parameters:
        input: Input audio settings.
        output: Output audio settings.
    """

    input: AudioInput | None = None
    output: AudioOutput | None = None


class Reasoning(WireModel):
    """Reasoning settings for reasoning-capable realtime models.

    Parameters:
        effort: Reasoning effort level.
    """

    effort: Literal["minimal", "low", "medium", "high", "xhigh"] | str | None = None


class SessionProperties(WireModel):
    """The realtime session configuration.

    Parameters:
        type: Session type, ``"realtime"`` for speech-to-speech sessions.
        object: ``"realtime.session"`` in server events.
        id: Session id (server events only).
        model: Model name (fixed by the connection URL).
        output_modalities: ``["audio"]`` or ``["text"]``.
        instructions: System instructions.
        audio: Input and output audio configuration.
        tools: Tools in wire format (list of dicts). Any object is accepted so a
            service can hold a Pipecat ``ToolsSchema`` here and convert it before
            sending; this package does not import Pipecat.
        tool_choice: How the model picks tools.
        max_output_tokens: Output token limit per response, or ``"inf"``.
        tracing: ``"auto"`` or a tracing configuration dict.
        truncation: ``"auto"``, ``"disabled"`` or a retention-ratio dict.
        prompt: Reference to a stored prompt template.
        expires_at: Expiry time (server events only).
        include: Extra fields to include in server events.
        reasoning: Reasoning settings.
    """

    type: Literal["realtime"] | None = "realtime"
    object: Literal["realtime.session"] | None = None
    id: str | None = None
    model: str | None = None
    output_modalities: list[Modality] | None = None
    instructions: str | None = None
    audio: AudioConfiguration | None = None
    tools: Any = None
    tool_choice: ToolChoice | None = None
    max_output_tokens: MaxOutputTokens | None = None
    tracing: Literal["auto"] | dict[str, Any] | None = None
    truncation: Literal["auto", "disabled"] | dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    expires_at: int | None = None
    include: list[str] | None = None
    reasoning: Reasoning | None = None
