"""The response object of ``response.created`` / ``response.done``, its usage, and errors."""

from __future__ import annotations

from typing import Any, Literal

from pipecat_realtime_openai.protocol.base import WireModel
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.protocol.session import AudioConfiguration, MaxOutputTokens, Modality

ResponseStatus = Literal["completed", "cancelled", "failed", "incomplete", "in_progress"]
"""Status of a response."""


class CachedTokensDetails(WireModel):
    """Breakdown of cached input tokens.

    Parameters:
        text_tokens: Cached text tokens.
        audio_tokens: Cached audio tokens.
        image_tokens: Cached image tokens.
    """

    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None


class TokenDetails(WireModel):
    """Breakdown of input or output tokens.

    Unlike Pipecat's built-in model, absent counts stay ``None`` (not 0) so the
    object re-serialises exactly as received.

    Parameters:
        cached_tokens: Input tokens served from the cache.
        text_tokens: Text tokens.
        audio_tokens: Audio tokens.
        image_tokens: Image tokens.
        cached_tokens_details: Breakdown of ``cached_tokens``.
    """

    cached_tokens: int | None = None
    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None
    cached_tokens_details: CachedTokensDetails | None = None


class Usage(WireModel):
    """Token usage of one response.

    Parameters:
        total_tokens: Input plus output tokens.
        input_tokens: Input tokens (conversation and instructions).
        output_tokens: Output tokens.
        input_token_details: Breakdown of input tokens.
        output_token_details: Breakdown of output tokens.
    """

    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_token_details: TokenDetails | None = None
    output_token_details: TokenDetails | None = None


class Response(WireModel):
    """A model response.

    Parameters:
        id: Response id.
        object: ``"realtime.response"``.
        status: Final or current status.
        status_details: Why a response is not ``completed``: from OpenAI a dict
            with ``type``, ``reason`` (e.g. ``turn_detected``, ``client_cancelled``,
            ``max_output_tokens``, ``content_filter``) and ``error``.
        output: Items the response produced.
        output_modalities: Modalities of the response.
        max_output_tokens: Token limit used.
        audio: Output audio settings used.
        usage: Token usage (in ``response.done``).
        conversation_id: ``"auto"`` conversation id, or none for out-of-band responses.
        metadata: Metadata given in ``response.create``.
        voice: The voice: a name from OpenAI (a legacy field, kept for Pipecat's
            model); Azure Voice Live sends an object such as
            ``{"name": "en-US-AvaNeural", "type": "azure-standard"}``. Read
            :attr:`voice_name` for the name whatever the shape.
        temperature: Legacy field kept for compatibility with Pipecat's model.
        output_audio_format: Legacy field kept for compatibility with Pipecat's model.
    """

    id: str | None = None
    object: Literal["realtime.response"] | None = None
    status: ResponseStatus | None = None
    # Any: OpenAI sends a dict, compatible servers have been seen sending a string.
    status_details: Any = None
    output: list[ConversationItem] | None = None
    output_modalities: list[Modality] | None = None
    max_output_tokens: MaxOutputTokens | None = None
    audio: AudioConfiguration | None = None
    usage: Usage | None = None
    conversation_id: str | None = None
    metadata: dict[str, Any] | None = None
    voice: str | dict[str, Any] | None = None
    temperature: float | None = None
    output_audio_format: str | None = None

    @property
    def voice_name(self) -> str | None:
        """The name of :attr:`voice`, whether it came as a string or an object.

        Returns:
            The voice name, or None when the response names none.
        """
        return voice_name(self.voice)


def voice_name(voice: Any) -> str | None:
    """Return the name of a voice given as a string or as an object with a ``name``.

    Args:
        voice: A voice as it came on the wire: ``"alloy"``, or an object like Azure
            Voice Live's ``{"name": "en-US-AvaNeural", "type": "azure-standard"}``.

    Returns:
        The name, or None when there is none (or it is not a string).
    """
    if isinstance(voice, str):
        return voice
    if isinstance(voice, dict):
        name = voice.get("name")
        return name if isinstance(name, str) else None
    return None


class RealtimeError(WireModel):
    """Error details of an ``error`` event or a failed transcription.

    Every field is optional because transcription failures may omit any of them.

    Parameters:
        type: Error category, e.g. ``invalid_request_error``.
        code: Machine-readable code, e.g. ``response_cancel_not_active``.
        message: Human-readable message.
        param: The offending parameter, when there is one.
        event_id: ``event_id`` of the client event that caused the error, if it had one.
    """

    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None
    event_id: str | None = None


class RealtimeConversation(WireModel):
    """The conversation announced by ``conversation.created``.

    Parameters:
        id: Conversation id.
        object: ``"realtime.conversation"``.
    """

    id: str | None = None
    object: Literal["realtime.conversation"] | str | None = None
