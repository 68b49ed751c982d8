"""The 11 GA client events (client -> server) and the ``response.create`` parameters."""

from __future__ import annotations

from typing import Any, Literal

from pipecat_realtime_openai.protocol.base import WireModel
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.protocol.session import (
    AudioConfiguration,
    MaxOutputTokens,
    Modality,
    SessionProperties,
    ToolChoice,
)


class ResponseProperties(WireModel):
    """Parameters of one response (``response.create``), overriding the session's.

    Parameters:
        output_modalities: ``["audio"]`` or ``["text"]``. Left unset by default
            because Azure rejects this field in ``response.create``.
        instructions: Instructions for this response only.
        audio: Output audio settings (``audio.output.format`` / ``voice``).
        tools: Tools in wire format for this response.
        tool_choice: How the model picks tools for this response.
        temperature: Accepted for compatibility with Pipecat's model; the GA API
            has no temperature, so leave it unset.
        max_output_tokens: Output token limit, or ``"inf"``.
        conversation: ``"auto"`` (default conversation) or ``"none"`` (out-of-band
            response that is not added to the conversation).
        metadata: Up to 16 string pairs echoed back in ``response.*`` events.
        prompt: Reference to a stored prompt template.
        input: Items (or ``item_reference`` dicts) to use as context instead of the
            conversation.
    """

    output_modalities: list[Modality] | None = None
    instructions: str | None = None
    audio: AudioConfiguration | None = None
    tools: Any = None
    tool_choice: ToolChoice | None = None
    temperature: float | None = None
    max_output_tokens: MaxOutputTokens | None = None
    conversation: Literal["auto", "none"] | str | None = None
    metadata: dict[str, str] | None = None
    prompt: dict[str, Any] | None = None
    input: list[ConversationItem] | None = None


class ClientEvent(WireModel):
    """Base of every client event.

    Parameters:
        event_id: Optional client-chosen id; the server echoes it in an ``error``
            caused by this event.
    """

    type: str
    event_id: str | None = None

    def to_json(self) -> str:
        """Return the event as the JSON text to send on the WebSocket.

        Returns:
            Compact JSON of :meth:`to_dict`.
        """
        return self.model_dump_json()


class SessionUpdateEvent(ClientEvent):
    """Update the session configuration (only the fields given change).

    Parameters:
        session: The session fields to change.
    """

    type: Literal["session.update"] = "session.update"
    session: SessionProperties


class InputAudioBufferAppendEvent(ClientEvent):
    """Append audio to the input buffer.

    On the audio hot path prefer :func:`pipecat_realtime_openai.protocol.fast.encode_append`,
    which builds the same JSON without a model.

    Parameters:
        audio: Base64-encoded audio in the session's input format.
    """

    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str


class InputAudioBufferCommitEvent(ClientEvent):
    """Commit the input buffer as a user item (needs >= 100 ms of audio)."""

    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClearEvent(ClientEvent):
    """Discard the audio in the input buffer."""

    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class ConversationItemCreateEvent(ClientEvent):
    """Add an item to the conversation.

    Parameters:
        item: The item to add.
        previous_item_id: Insert after this item; ``"root"`` inserts first; unset
            appends at the end.
    """

    type: Literal["conversation.item.create"] = "conversation.item.create"
    previous_item_id: str | None = None
    item: ConversationItem


class ConversationItemRetrieveEvent(ClientEvent):
    """Ask the server for an item (answered by ``conversation.item.retrieved``).

    Parameters:
        item_id: Id of the item.
    """

    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str


class ConversationItemTruncateEvent(ClientEvent):
    """Cut an assistant audio item to what the user actually heard.

    Parameters:
        item_id: Id of the assistant item.
        content_index: Index of the audio content part (normally 0).
        audio_end_ms: Keep audio up to here; must not exceed the item's audio length.
    """

    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDeleteEvent(ClientEvent):
    """Remove an item from the conversation.

    Parameters:
        item_id: Id of the item.
    """

    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ResponseCreateEvent(ClientEvent):
    """Ask the model for a response.

    Parameters:
        response: Per-response overrides; unset uses the session configuration.
    """

    type: Literal["response.create"] = "response.create"
    response: ResponseProperties | None = None


class ResponseCancelEvent(ClientEvent):
    """Cancel a response in progress.

    Parameters:
        response_id: The response to cancel; unset cancels the active one.
    """

    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None


class OutputAudioBufferClearEvent(ClientEvent):
    """Stop and discard buffered output audio (WebRTC and SIP transports only)."""

    type: Literal["output_audio_buffer.clear"] = "output_audio_buffer.clear"


CLIENT_EVENT_TYPES: dict[str, type[ClientEvent]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        SessionUpdateEvent,
        InputAudioBufferAppendEvent,
        InputAudioBufferCommitEvent,
        InputAudioBufferClearEvent,
        ConversationItemCreateEvent,
        ConversationItemRetrieveEvent,
        ConversationItemTruncateEvent,
        ConversationItemDeleteEvent,
        ResponseCreateEvent,
        ResponseCancelEvent,
        OutputAudioBufferClearEvent,
    )
}
"""Client event classes by wire ``type``."""
