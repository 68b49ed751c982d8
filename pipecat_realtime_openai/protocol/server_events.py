"""GA server events (server -> client) that a voice client handles.

Class names follow Pipecat's built-in ``events.py``. Each event's ``type`` has its wire
value as default and ``event_id`` is generated when missing, so a simulator can build
events with only the fields that matter.

Only the fields the service needs to act on an event are required; a server that
leaves out or bends any other field still gets its event understood
(:func:`~pipecat_realtime_openai.protocol.parse.parse_server_event` sets a bent
optional field aside instead of dropping the event). Needed, per event:

- ``session.created`` / ``session.updated``: ``session``.
- ``conversation.item.added`` / ``.created`` / ``.done`` / ``.retrieved``,
  ``response.output_item.added`` / ``.done``: ``item`` (and its ``type``, which says
  what the item is); the output item events also ``response_id`` (function calls are
  filed under their response).
- ``conversation.item.truncated``: ``item_id`` and ``audio_end_ms`` (the cut is the
  event's news: what the user heard of the item).
- ``conversation.item.deleted``, ``input_audio_buffer.speech_started`` /
  ``speech_stopped`` / ``committed`` / ``timeout_triggered``: ``item_id`` (turns and
  the mirror are keyed on it). The ``audio_*_ms`` positions default to 0.
- ``conversation.item.input_audio_transcription.delta`` / ``.failed``: ``item_id``;
  ``.completed`` and xAI's cumulative ``.updated``: ``item_id`` and ``transcript``.
- ``output_audio_buffer.*``: ``response_id``.
- ``response.created`` / ``response.done``: ``response``.
- Content events (``response.content_part.*``, ``response.output_text.*``,
  ``response.output_audio_transcript.*``, ``response.output_audio.*``):
  ``response_id`` and ``item_id``, and ``delta`` for the deltas.
- ``response.function_call_arguments.delta``: ``response_id``, ``item_id``, ``delta``;
  ``.done``: ``response_id``, ``item_id``, ``call_id`` and ``arguments``.
- ``mcp_list_tools.in_progress`` / ``.completed`` / ``.failed``,
  ``response.mcp_call.in_progress`` / ``.completed`` / ``.failed``: ``item_id``;
  ``response.mcp_call_arguments.delta``: ``item_id`` and ``delta``; ``.done``:
  ``item_id`` and ``arguments``.
- ``error``: ``error``.
- ``conversation.created``, ``input_audio_buffer.cleared``, ``rate_limits.updated``:
  nothing beyond the type.

Everything else is optional: ``output_index`` (default 0), ``content_index`` (default 0
where the service reads it), ``part``, ``previous_item_id``, the final ``text`` /
``transcript`` of ``.done`` content events (the deltas carried it), ``name``,
``logprobs``, ``usage``, ``rate_limits``, the ``error`` of a failed transcription and
the ``conversation`` of ``conversation.created`` (both default to empty objects).
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field

from pipecat_realtime_openai.protocol.base import WireModel, bent_record
from pipecat_realtime_openai.protocol.items import ConversationItem, ItemContent
from pipecat_realtime_openai.protocol.responses import (
    RealtimeConversation,
    RealtimeError,
    Response,
)
from pipecat_realtime_openai.protocol.session import SessionProperties


def new_event_id() -> str:
    """Return a fresh server-style event id (``event_`` + 20 hex chars).

    Returns:
        A new unique event id.
    """
    return "event_" + uuid.uuid4().hex[:20]


class ServerEvent(WireModel):
    """Base of every server event.

    Parameters:
        event_id: Server-assigned event id.
        type: Wire event type.
    """

    event_id: str = Field(default_factory=new_event_id)
    type: str

    def to_dict(self) -> dict[str, Any]:
        """Return the wire representation as a JSON-compatible dict.

        An event validated from data (its ``type`` came with the data, as it always
        does off the wire) gives back exactly the fields it came with: defaults the
        model filled in for fields the server left out stay out, and fields the
        parser set aside (see ``parse.bent_fields``) are put back as received. An
        event built in code (``type`` left to its default) serialises its defaults,
        as :meth:`WireModel.to_dict` does.

        Returns:
            The event as a dict. For a beta event name normalised on receipt,
            ``type`` is the GA name.
        """
        data = self.model_dump(mode="json", exclude_unset="type" in self.model_fields_set)
        record = bent_record(self)
        if record is not None:
            record.put_back(data)
        return data


class UnknownServerEvent(ServerEvent):
    """A server event of a type this package has no model for; keeps every field."""

    event_id: str | None = None  # type: ignore[assignment]


class SessionCreatedEvent(ServerEvent):
    """First event of a connection, with the full default session."""

    type: Literal["session.created"] = "session.created"
    session: SessionProperties


class SessionUpdatedEvent(ServerEvent):
    """Answer to ``session.update``, with the full effective session."""

    type: Literal["session.updated"] = "session.updated"
    session: SessionProperties


class ConversationCreated(ServerEvent):
    """The conversation was created (sent by some servers right after connecting)."""

    type: Literal["conversation.created"] = "conversation.created"
    conversation: RealtimeConversation = Field(default_factory=RealtimeConversation)


class ConversationItemAdded(ServerEvent):
    """An item was added to the conversation (its content may still be streaming)."""

    type: Literal["conversation.item.added"] = "conversation.item.added"
    previous_item_id: str | None = None
    item: ConversationItem


class ConversationItemCreated(ServerEvent):
    """Legacy name of ``conversation.item.added`` still listed in the GA schema."""

    type: Literal["conversation.item.created"] = "conversation.item.created"
    previous_item_id: str | None = None
    item: ConversationItem


class ConversationItemDone(ServerEvent):
    """An item is complete."""

    type: Literal["conversation.item.done"] = "conversation.item.done"
    previous_item_id: str | None = None
    item: ConversationItem


class ConversationItemRetrieved(ServerEvent):
    """Answer to ``conversation.item.retrieve``."""

    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: ConversationItem


class ConversationItemTruncated(ServerEvent):
    """Answer to ``conversation.item.truncate``."""

    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int = 0
    audio_end_ms: int


class ConversationItemDeleted(ServerEvent):
    """Answer to ``conversation.item.delete``."""

    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class ConversationItemInputAudioTranscriptionDelta(ServerEvent):
    """Partial transcript of a user audio item (asynchronous to the turn)."""

    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int | None = None
    delta: str | None = None
    logprobs: list[dict[str, Any]] | None = None


class ConversationItemInputAudioTranscriptionCompleted(ServerEvent):
    """Final transcript of a user audio item (may arrive during the reply)."""

    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int = 0
    transcript: str
    logprobs: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None


class ConversationItemInputAudioTranscriptionSegment(ServerEvent):
    """One speaker's stretch of a user audio item (diarizing transcription models)."""

    type: Literal["conversation.item.input_audio_transcription.segment"] = (
        "conversation.item.input_audio_transcription.segment"
    )
    item_id: str
    text: str
    content_index: int = 0
    id: str | None = None
    speaker: str | None = None
    start: float | None = None
    end: float | None = None


class ConversationItemInputAudioTranscriptionUpdated(ServerEvent):
    """xAI: the transcript of a user audio item so far (each one replaces the last)."""

    type: Literal["conversation.item.input_audio_transcription.updated"] = (
        "conversation.item.input_audio_transcription.updated"
    )
    item_id: str
    content_index: int = 0
    transcript: str


class ConversationItemInputAudioTranscriptionFailed(ServerEvent):
    """Transcription of a user audio item failed."""

    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int = 0
    error: RealtimeError = Field(default_factory=RealtimeError)


class InputAudioBufferSpeechStarted(ServerEvent):
    """Server VAD heard speech start (the barge-in signal)."""

    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int = 0
    item_id: str


class InputAudioBufferSpeechStopped(ServerEvent):
    """Server VAD heard speech end."""

    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int = 0
    item_id: str


class InputAudioBufferCommitted(ServerEvent):
    """The input buffer became a user item."""

    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    previous_item_id: str | None = None
    item_id: str


class InputAudioBufferCleared(ServerEvent):
    """Answer to ``input_audio_buffer.clear``."""

    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferTimeoutTriggered(ServerEvent):
    """Server VAD idle timeout fired (``idle_timeout_ms``); a response follows."""

    type: Literal["input_audio_buffer.timeout_triggered"] = "input_audio_buffer.timeout_triggered"
    audio_start_ms: int = 0
    audio_end_ms: int = 0
    item_id: str


class OutputAudioBufferStarted(ServerEvent):
    """WebRTC/SIP: the server started playing a response's audio."""

    type: Literal["output_audio_buffer.started"] = "output_audio_buffer.started"
    response_id: str


class OutputAudioBufferStopped(ServerEvent):
    """WebRTC/SIP: the server finished playing a response's audio."""

    type: Literal["output_audio_buffer.stopped"] = "output_audio_buffer.stopped"
    response_id: str


class OutputAudioBufferCleared(ServerEvent):
    """WebRTC/SIP: buffered output audio was discarded."""

    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"
    response_id: str


class ResponseCreated(ServerEvent):
    """A response started."""

    type: Literal["response.created"] = "response.created"
    response: Response


class ResponseDone(ServerEvent):
    """A response ended (completed, cancelled, failed or incomplete), with usage."""

    type: Literal["response.done"] = "response.done"
    response: Response


class ResponseOutputItemAdded(ServerEvent):
    """A response started producing an item."""

    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int = 0
    item: ConversationItem


class ResponseOutputItemDone(ServerEvent):
    """A response finished producing an item."""

    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int = 0
    item: ConversationItem


class _ContentEvent(ServerEvent):
    """Fields shared by events about one content part of a response item."""

    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0


class ResponseContentPartAdded(_ContentEvent):
    """A content part (``audio`` or ``text``) started."""

    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ItemContent | None = None


class ResponseContentPartDone(_ContentEvent):
    """A content part finished."""

    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ItemContent | None = None


class ResponseTextDelta(_ContentEvent):
    """A chunk of text output (text-only responses)."""

    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    delta: str


class ResponseTextDone(_ContentEvent):
    """Text output finished."""

    type: Literal["response.output_text.done"] = "response.output_text.done"
    text: str | None = None


class ResponseAudioTranscriptDelta(_ContentEvent):
    """A chunk of the transcript of the model's audio."""

    type: Literal["response.output_audio_transcript.delta"] = (
        "response.output_audio_transcript.delta"
    )
    delta: str


class ResponseAudioTranscriptDone(_ContentEvent):
    """Transcript of the model's audio finished."""

    type: Literal["response.output_audio_transcript.done"] = "response.output_audio_transcript.done"
    transcript: str | None = None


class ResponseAudioDelta(_ContentEvent):
    """A chunk of the model's audio (base64). Parsing yields the faster ``AudioDelta``."""

    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"
    delta: str


class ResponseAudioDone(_ContentEvent):
    """The model's audio for a content part finished."""

    type: Literal["response.output_audio.done"] = "response.output_audio.done"


class ResponseFunctionCallArgumentsDelta(ServerEvent):
    """A chunk of a function call's JSON arguments."""

    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    response_id: str
    item_id: str
    output_index: int = 0
    call_id: str | None = None
    delta: str


class ResponseFunctionCallArgumentsDone(ServerEvent):
    """A function call's arguments are complete."""

    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int = 0
    call_id: str
    arguments: str
    name: str | None = None


class McpListToolsInProgress(ServerEvent):
    """The server started listing an MCP server's tools (its ``mcp_list_tools`` item)."""

    type: Literal["mcp_list_tools.in_progress"] = "mcp_list_tools.in_progress"
    item_id: str


class McpListToolsCompleted(ServerEvent):
    """An MCP server's tools are listed; the ``mcp_list_tools`` item carries them."""

    type: Literal["mcp_list_tools.completed"] = "mcp_list_tools.completed"
    item_id: str


class McpListToolsFailed(ServerEvent):
    """Listing an MCP server's tools failed: the model cannot use that server."""

    type: Literal["mcp_list_tools.failed"] = "mcp_list_tools.failed"
    item_id: str


class _McpCallEvent(ServerEvent):
    """Fields shared by the events about one ``mcp_call`` item of a response."""

    item_id: str
    output_index: int = 0


class ResponseMcpCallArgumentsDelta(_McpCallEvent):
    """A chunk of an MCP call's JSON arguments."""

    type: Literal["response.mcp_call_arguments.delta"] = "response.mcp_call_arguments.delta"
    response_id: str | None = None
    delta: str


class ResponseMcpCallArgumentsDone(_McpCallEvent):
    """An MCP call's arguments are complete."""

    type: Literal["response.mcp_call_arguments.done"] = "response.mcp_call_arguments.done"
    response_id: str | None = None
    arguments: str


class ResponseMcpCallInProgress(_McpCallEvent):
    """The server is calling the MCP tool."""

    type: Literal["response.mcp_call.in_progress"] = "response.mcp_call.in_progress"


class ResponseMcpCallCompleted(_McpCallEvent):
    """The MCP call returned; the ``mcp_call`` item's ``output`` holds the result."""

    type: Literal["response.mcp_call.completed"] = "response.mcp_call.completed"


class ResponseMcpCallFailed(_McpCallEvent):
    """The MCP call failed; the ``mcp_call`` item's ``error`` says why."""

    type: Literal["response.mcp_call.failed"] = "response.mcp_call.failed"


class RateLimitsUpdated(ServerEvent):
    """Current rate limits (dicts with ``name``, ``limit``, ``remaining``, ``reset_seconds``)."""

    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[dict[str, Any]] | None = None


class ErrorEvent(ServerEvent):
    """An error; most are recoverable and the session continues."""

    type: Literal["error"] = "error"
    error: RealtimeError


SERVER_EVENT_TYPES: dict[str, type[ServerEvent]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        SessionCreatedEvent,
        SessionUpdatedEvent,
        ConversationCreated,
        ConversationItemAdded,
        ConversationItemCreated,
        ConversationItemDone,
        ConversationItemRetrieved,
        ConversationItemTruncated,
        ConversationItemDeleted,
        ConversationItemInputAudioTranscriptionDelta,
        ConversationItemInputAudioTranscriptionCompleted,
        ConversationItemInputAudioTranscriptionUpdated,
        ConversationItemInputAudioTranscriptionSegment,
        ConversationItemInputAudioTranscriptionFailed,
        InputAudioBufferSpeechStarted,
        InputAudioBufferSpeechStopped,
        InputAudioBufferCommitted,
        InputAudioBufferCleared,
        InputAudioBufferTimeoutTriggered,
        OutputAudioBufferStarted,
        OutputAudioBufferStopped,
        OutputAudioBufferCleared,
        ResponseCreated,
        ResponseDone,
        ResponseOutputItemAdded,
        ResponseOutputItemDone,
        ResponseContentPartAdded,
        ResponseContentPartDone,
        ResponseTextDelta,
        ResponseTextDone,
        ResponseAudioTranscriptDelta,
        ResponseAudioTranscriptDone,
        ResponseAudioDelta,
        ResponseAudioDone,
        ResponseFunctionCallArgumentsDelta,
        ResponseFunctionCallArgumentsDone,
        McpListToolsInProgress,
        McpListToolsCompleted,
        McpListToolsFailed,
        ResponseMcpCallArgumentsDelta,
        ResponseMcpCallArgumentsDone,
        ResponseMcpCallInProgress,
        ResponseMcpCallCompleted,
        ResponseMcpCallFailed,
        RateLimitsUpdated,
        ErrorEvent,
    )
}
"""Server event classes by wire ``type``."""
