"""What the core asks its host to do: the closed set of actions.

:class:`~pipecat_realtime_openai.core.session.RealtimeSession` decides and returns
actions; the host (the Pipecat service) carries them out in order. Every action is a
small frozen dataclass and :data:`Action` is their union: a host dispatches over
``typing.get_args(Action)`` and a test checks that it handles each one, so a new action
type that nobody handles cannot go unnoticed.

Nothing here is Pipecat's: the frames named in the docstrings are what the Pipecat
service makes of each action.

The two audio hot paths return :class:`AudioOut` and :class:`TextOut` (or None)
instead of action lists, so no list is built per audio delta or per input frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from pipecat_realtime_openai.core.context_sync import ContextEdit
from pipecat_realtime_openai.core.errors import ErrorCategoryName
from pipecat_realtime_openai.core.mcp import McpApprovalRequest, McpCallNews
from pipecat_realtime_openai.core.out_of_band import OutOfBandResponse
from pipecat_realtime_openai.core.turn_timeline import TurnTimeline
from pipecat_realtime_openai.protocol.client_events import ClientEvent
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.protocol.responses import Usage

Span = Literal["llm_setup", "llm_request"]
"""Tracing span a sent event belongs to (the first ``session.update``, a ``response.create``)."""


# -- the wire ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send a client event on the current connection.

    Attributes:
        event: The event.
        span: The tracing span it opens, if any.
    """

    event: ClientEvent
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class SendInputAudio:
    """Send the user audio the core has ready (``RealtimeSession.take_input_audio``).

    Input audio travels in one ordered outbox; whoever sends it takes it under one
    lock, so appends and commits reach the server in the order they were decided.
    """


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close the current connection.

    The core already knows why: a planned recycle (``session rollover``,
    ``session_expired``) is followed at once by a new connection that restores the
    conversation; after a fatal error nothing follows.

    Attributes:
        reason: Why, in words (for the log).
    """

    reason: str


# -- frames -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    """A model response began (``LLMFullResponseStartFrame``)."""


@dataclass(frozen=True, slots=True)
class ResponseEnded:
    """The model response ended, however it ended (``LLMFullResponseEndFrame``)."""


@dataclass(frozen=True, slots=True)
class BotSpeechStarted:
    """The response's audio begins (``TTSStartedFrame``)."""


@dataclass(frozen=True, slots=True)
class BotSpeechStopped:
    """The response's audio ends or is cut off (``TTSStoppedFrame``)."""


@dataclass(frozen=True, slots=True)
class UserSpeechStarted:
    """Server VAD heard the user start (``ProposedUserStartedSpeakingFrame``)."""


@dataclass(frozen=True, slots=True)
class UserSpeechStopped:
    """Server VAD heard the user stop (``ProposedUserStoppedSpeakingFrame``)."""


@dataclass(frozen=True, slots=True)
class SpeakerSegment:
    """One speaker's stretch of a user audio item, from a diarizing transcription model.

    Attributes:
        speaker: The speaker label the server gave (``"A"``, ``"B"``, ...).
        text: What that speaker said.
        start: Start in seconds from the start of the item's audio, if given.
        end: End in seconds, if given.
    """

    speaker: str
    text: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class UserTranscript:
    """A transcript of the user's speech (``InterimTranscriptionFrame`` / ``TranscriptionFrame``).

    Attributes:
        text: The transcript (a delta when not final).
        final: The whole transcript of a turn.
        language: The configured transcription language code, if any.
        event: The server event it came from.
        segments: Who said what, when the transcription model diarizes: the one
            segment of an interim, every segment of the item on the final.
        confidence: Of a final, the geometric mean token probability (0..1) when the
            session includes transcription logprobs.
    """

    text: str
    final: bool
    language: str | None
    event: Any
    segments: tuple[SpeakerSegment, ...] = ()
    confidence: float | None = None


class MetricsOp(Enum):
    """Which metrics to start or stop."""

    START = "start"
    """Start time-to-first-byte and processing metrics (a reply is now awaited)."""
    STOP_PROCESSING = "stop_processing"
    """The reply is done."""
    STOP_ALL = "stop_all"
    """The user interrupted: nothing is awaited any more."""


@dataclass(frozen=True, slots=True)
class Metrics:
    """Start or stop metrics.

    Attributes:
        op: Which.
    """

    op: MetricsOp


@dataclass(frozen=True, slots=True)
class TurnEnded:
    """A turn is over: report its timeline (a metrics frame and ``on_turn_timeline``).

    Attributes:
        timeline: What happened in the turn, and when.
    """

    timeline: TurnTimeline


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Token usage of a finished response (Pipecat's usage metrics).

    Attributes:
        usage: The ``response.usage`` object.
    """

    usage: Usage


@dataclass(frozen=True, slots=True)
class ResponseFinished:
    """A ``response.done`` arrived (the tracing span of the response).

    Attributes:
        event: The ``response.done`` event.
    """

    event: Any


# -- the application ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunFunctionCall:
    """Run one function call the model made; its result comes back as an input.

    Attributes:
        call_id: The server's call id.
        name: The function name.
        arguments: The parsed arguments.
    """

    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class McpCallStarted:
    """The server started an MCP tool call: observers see it as a function call.

    Attributes:
        call: The call (``call_id`` is its ``mcp_call`` item's id).
    """

    call: McpCallNews


@dataclass(frozen=True, slots=True)
class McpCallEnded:
    """An MCP tool call the server ran returned or failed.

    Attributes:
        call: The call, with its ``output`` or ``error``.
    """

    call: McpCallNews


@dataclass(frozen=True, slots=True)
class McpApprovalAsked:
    """The server waits for the application's answer to an MCP approval request.

    The host asks the application and gives the answer to
    ``RealtimeSession.mcp_approval``.

    Attributes:
        request: The request.
    """

    request: McpApprovalRequest


@dataclass(frozen=True, slots=True)
class Notify:
    """Call the application's event handler.

    Attributes:
        handler: The handler name (``on_conversation_item_created``, ...).
        args: Its arguments after the service.
    """

    handler: str
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ReportError:
    """Tell the pipeline about an error (an upstream ``ErrorFrame``).

    Attributes:
        message: What happened and what to do about it. Never a key or audio.
        category: Why it happened (the value of Pipecat's ``ErrorCategory``).
        fatal: The session cannot go on; at most one fatal report is made.
    """

    message: str
    category: ErrorCategoryName
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class ConversationSeeded:
    """The conversation was seeded from the context (the service logs the context)."""


@dataclass(frozen=True, slots=True)
class ItemRetrieved:
    """A ``conversation.item.retrieve`` was answered.

    Attributes:
        item_id: The item asked for.
        item: The item as the server holds it.
    """

    item_id: str
    item: ConversationItem


@dataclass(frozen=True, slots=True)
class RetrievalFailed:
    """A ``conversation.item.retrieve`` can no longer be answered.

    Attributes:
        item_id: The item asked for.
        message: Why.
    """

    item_id: str
    message: str


@dataclass(frozen=True, slots=True)
class RepairContext:
    """Edit the application's context to say what really happened (see ``ContextEdit``).

    Attributes:
        edits: The edits, in order.
    """

    edits: tuple[ContextEdit, ...]


@dataclass(frozen=True, slots=True)
class OutOfBandResult:
    """An out-of-band request (``RealtimeSession.out_of_band``) ended.

    Attributes:
        request_id: The request.
        response: The finished response (for a failed one, what it produced), or
            None when it never started.
        error: Why it failed, or None.
    """

    request_id: str
    response: OutOfBandResponse | None
    error: str | None = None

    @property
    def text(self) -> str:
        """The answer's words: its text, else its audio transcript ("" when none)."""
        if self.response is None:
            return ""
        return self.response.text or self.response.audio_transcript


Action = (
    Send
    | SendInputAudio
    | CloseConnection
    | ResponseStarted
    | ResponseEnded
    | BotSpeechStarted
    | BotSpeechStopped
    | UserSpeechStarted
    | UserSpeechStopped
    | UserTranscript
    | Metrics
    | TurnEnded
    | UsageReport
    | ResponseFinished
    | RunFunctionCall
    | McpCallStarted
    | McpCallEnded
    | McpApprovalAsked
    | Notify
    | ReportError
    | ConversationSeeded
    | ItemRetrieved
    | RetrievalFailed
    | OutOfBandResult
    | RepairContext
)
"""Everything the core can ask for. Hosts handle every member."""


# -- the hot paths ------------------------------------------------------------------------


class AudioOut:
    """Assistant audio to play, from ``RealtimeSession.audio_out``.

    Attributes:
        pcm: 16-bit mono PCM (empty when the chunk decoded to nothing yet).
        sample_rate: Its rate.
        opens_speech: The first audio of the response: ``TTSStartedFrame`` goes first.
    """

    __slots__ = ("opens_speech", "pcm", "sample_rate")

    def __init__(self, pcm: bytes, sample_rate: int, opens_speech: bool) -> None:
        self.pcm = pcm
        self.sample_rate = sample_rate
        self.opens_speech = opens_speech


class TextOut:
    """Transcript of assistant audio, from ``RealtimeSession.transcript_out``.

    Attributes:
        text: The transcript text.
        opens_speech: The response's speech starts with it (the transcript can lead
            the audio): ``TTSStartedFrame`` goes first.
    """

    __slots__ = ("opens_speech", "text")

    def __init__(self, text: str, opens_speech: bool) -> None:
        self.text = text
        self.opens_speech = opens_speech
