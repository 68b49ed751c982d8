"""Out-of-band responses: answers on the side that stay out of the conversation.

A ``response.create`` with ``conversation: "none"`` answers with its own instructions,
tools and ``input`` (a summary, a classification, a moderation check while the user
talks) without adding anything to the conversation or touching the bot's turn.
:class:`OutOfBandRequests` tags each request in its ``metadata``, so its ``response.*``
events are told from the conversation's and from each other's, and collects what each
one produced (text, audio, its transcript, function calls, usage) until its
``response.done``.

How many run at once is the dialect's (``Dialect.concurrent_out_of_band``):

- **concurrent** (OpenAI, Azure's v1 endpoint): the GA protocol lets only one response
  write to the conversation at a time, "but otherwise multiple responses can be created
  in parallel" (the ``openai`` package's ``ResponseCreateEvent``). Each request is sent
  at once, whatever else runs.
- **serial** (the others): one at a time, and only while no conversation response
  runs, as a server that counts every response as the active one needs.

A concurrent server that refuses one anyway (``conversation_already_has_active_response``)
turns the rest of the session serial: the request waits, first in line, and goes again
once nothing runs, rather than being refused over and over.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipecat_realtime_openai.protocol.client_events import (
    ResponseCancelEvent,
    ResponseCreateEvent,
    ResponseProperties,
)
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.protocol.session import ToolChoice

TAG = "pipecat_realtime_openai_request"
"""Metadata key that marks a response as one of ours (its value names the request)."""

EVENT_PREFIX = "oob_"
"""Event id prefix of out-of-band ``response.create`` events."""

CANCEL_PREFIX = "oobc_"
"""Event id prefix of the ``response.cancel`` of an out-of-band request."""


class OutOfBandResponseError(RuntimeError):
    """An out-of-band response did not finish.

    The server refused or failed it, the connection closed first, or it timed out.
    The session goes on either way.

    Attributes:
        reason: Why, in words.
        response: What the response produced before it ended, when it started.
    """

    def __init__(self, reason: str, response: OutOfBandResponse | None = None) -> None:
        """Create it.

        Args:
            reason: Why the response did not finish.
            response: What it produced so far, if anything.
        """
        super().__init__(reason)
        self.reason = reason
        self.response = response


@dataclass(frozen=True, slots=True)
class OutOfBandFunctionCall:
    """A function call an out-of-band response made (never run by the service).

    Attributes:
        name: The function.
        call_id: The call's id.
        arguments: Its arguments as the JSON text the model wrote.
    """

    name: str
    call_id: str
    arguments: str


@dataclass(frozen=True, slots=True)
class OutOfBandResponse:
    """A finished out-of-band response.

    Attributes:
        response_id: The server's id of the response.
        status: ``completed``, ``incomplete`` (e.g. ``max_output_tokens``) or
            ``cancelled``.
        text: Its text (text modality), "" otherwise.
        audio: Its audio (audio modality), in the session's output audio format
            (24 kHz 16-bit mono PCM unless the session says otherwise).
        audio_transcript: The transcript of that audio.
        function_calls: The function calls it made, in order; never run.
        usage: Its token usage as the server reported it, or None.
        metadata: The metadata it was created with (the service's own tag left out).
        status_details: The server's ``status_details`` (why it was incomplete or
            cancelled), or None.
    """

    response_id: str
    status: str
    text: str = ""
    audio: bytes = b""
    audio_transcript: str = ""
    function_calls: tuple[OutOfBandFunctionCall, ...] = ()
    usage: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    status_details: Any = None


@dataclass(frozen=True, slots=True)
class OutOfBandOutcome:
    """How an out-of-band request ended: a response, or an error.

    Attributes:
        request_id: The request.
        response: The response, when the server finished one (also for a failed
            one, what it produced).
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


@dataclass(slots=True)
class _Request:
    request_id: str
    properties: ResponseProperties
    response_id: str | None = None
    cancelled: bool = False
    text: list[str] = field(default_factory=list)
    audio: list[bytes] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    calls: list[OutOfBandFunctionCall] = field(default_factory=list)
    call_names: dict[str, str] = field(default_factory=dict)

    def result(self, status: str, usage: Any = None, details: Any = None) -> OutOfBandResponse:
        metadata = dict(self.properties.metadata or {})
        metadata.pop(TAG, None)
        return OutOfBandResponse(
            response_id=self.response_id or "",
            status=status,
            text="".join(self.text),
            audio=b"".join(self.audio),
            audio_transcript="".join(self.transcript),
            function_calls=tuple(self.calls),
            usage=usage,
            metadata=metadata,
            status_details=details,
        )


CONVERSATION_AUTO_REFUSED = (
    'conversation="auto" is not supported for create_response: such a response writes '
    "to the conversation, which the service keeps in step with the Pipecat context "
    "(its items would stand for no context message, and the next context change would "
    "treat them as unknown), and it takes the conversation's one response slot that "
    "the bot's turns use. To answer in the conversation, add the messages to the "
    "context (LLMMessagesAppendFrame with run_llm=True)."
)
"""Why ``create_response`` refuses ``conversation="auto"``."""


def request_properties(
    input_items: Sequence[ConversationItem | Mapping[str, Any]] | None,
    *,
    conversation: str = "none",
    instructions: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: ToolChoice | None = None,
    output_modalities: Sequence[str] | None = ("text",),
    metadata: Mapping[str, str] | None = None,
    max_output_tokens: int | str | None = None,
    voice: str | Mapping[str, Any] | None = None,
) -> ResponseProperties:
    """The ``response`` object of an out-of-band ``response.create``.

    Args:
        input_items: What the response reads instead of the conversation: items, or
            ``{"type": "item_reference", "id": ...}`` dicts naming conversation items.
            None reads the whole conversation (without adding to it).
        conversation: Must be ``"none"`` (see :data:`CONVERSATION_AUTO_REFUSED`).
        instructions: Instructions for this response only.
        tools: Wire tools for this response only (the session's when None).
        tool_choice: ``auto``, ``none``, ``required`` or a function choice.
        output_modalities: ``["text"]`` or ``["audio"]``; None for the session's.
        metadata: String pairs echoed back on the response.
        max_output_tokens: Its token limit (or ``"inf"``).
        voice: The voice of an audio answer (the session's when None).

    Raises:
        ValueError: ``conversation`` is not ``"none"``, or an input entry is neither
            an item nor an item reference.
    """
    if conversation != "none":
        if conversation == "auto":
            raise ValueError(CONVERSATION_AUTO_REFUSED)
        raise ValueError(f'conversation must be "none", not {conversation!r}')
    fields: dict[str, Any] = {"conversation": "none"}
    if input_items is not None:
        fields["input"] = [_input_entry(entry) for entry in input_items]
    if instructions is not None:
        fields["instructions"] = instructions
    if tools is not None:
        fields["tools"] = [dict(tool) for tool in tools]
    if tool_choice is not None:
        fields["tool_choice"] = tool_choice
    if output_modalities is not None:
        fields["output_modalities"] = list(output_modalities)
    if metadata is not None:
        fields["metadata"] = dict(metadata)
    if max_output_tokens is not None:
        fields["max_output_tokens"] = max_output_tokens
    if voice is not None:
        fields["audio"] = {"output": {"voice": voice}}
    return ResponseProperties.model_validate(fields)


def _input_entry(entry: ConversationItem | Mapping[str, Any]) -> ConversationItem:
    if isinstance(entry, ConversationItem):
        return entry
    if isinstance(entry, Mapping):
        if entry.get("type") == "item_reference":
            if not isinstance(entry.get("id"), str) or not entry["id"]:
                raise ValueError("an item_reference needs the id of a conversation item")
            # The item model keeps unknown types, so a reference goes out as given.
            return ConversationItem.model_validate({"type": "item_reference", "id": entry["id"]})
        return ConversationItem.model_validate(dict(entry))
    raise ValueError(f"an input entry must be an item or an item reference, not {entry!r}")


def tagged(properties: ResponseProperties, request_id: str) -> ResponseProperties:
    """The properties of a request, out of band and tagged with its id.

    Args:
        properties: What the caller asked for (``conversation`` is set to ``"none"``).
        request_id: Names the request in its metadata.

    Returns:
        A copy carrying the tag next to the caller's metadata.

    Raises:
        ValueError: The caller's metadata already uses the tag's key, or holds more
            than the 15 pairs that leave room for it (the server takes 16).
    """
    metadata = dict(properties.metadata or {})
    if TAG in metadata:
        raise ValueError(f"metadata key {TAG!r} is the service's own")
    if len(metadata) > 15:
        raise ValueError("metadata holds at most 15 pairs (the service adds one of its own)")
    metadata[TAG] = request_id
    return properties.model_copy(update={"conversation": "none", "metadata": metadata})


class OutOfBandRequests:
    """Out-of-band requests: waiting, running (several when the server allows), results."""

    def __init__(self, *, concurrent: bool = True) -> None:
        """Create it.

        Args:
            concurrent: Whether the server runs out-of-band responses next to the
                conversation's and each other (see the module docstring).
        """
        self.concurrent = concurrent
        self._waiting: deque[_Request] = deque()
        self._sent: dict[str, _Request] = {}
        self._by_response: dict[str, _Request] = {}

    def ask(self, request_id: str, properties: ResponseProperties) -> None:
        """Queue a request; :meth:`next_events` sends it when the server may take it.

        Args:
            request_id: Unique while the request runs.
            properties: Its ``response`` object, already :func:`tagged`.
        """
        self._waiting.append(_Request(request_id, properties))

    @property
    def running(self) -> int:
        """Requests sent and not ended."""
        return len(self._sent)

    def next_events(self, conversation_busy: bool) -> list[ResponseCreateEvent]:
        """The requests to send now.

        Args:
            conversation_busy: A conversation response is requested or running.
        """
        events: list[ResponseCreateEvent] = []
        while self._waiting:
            if not self.concurrent and (conversation_busy or self._sent):
                break
            request = self._waiting.popleft()
            self._sent[request.request_id] = request
            events.append(
                ResponseCreateEvent(
                    response=request.properties, event_id=EVENT_PREFIX + request.request_id
                )
            )
        return events

    def owns(self, response: Any) -> bool:
        """Whether a ``response.created`` is one of ours (by its metadata's tag).

        Args:
            response: The ``response`` of the event.
        """
        metadata = getattr(response, "metadata", None)
        tag = metadata.get(TAG) if isinstance(metadata, dict) else None
        request = self._sent.get(tag) if isinstance(tag, str) else None
        if request is None:
            return False
        response_id = getattr(response, "id", None) or ""
        request.response_id = response_id
        self._by_response[response_id] = request
        return True

    def cancel_due(self, response: Any) -> ResponseCancelEvent | None:
        """After :meth:`owns`: the cancel of a request cancelled before it started."""
        request = self._by_response.get(getattr(response, "id", None) or "")
        if request is None or not request.cancelled:
            return None
        return _cancel_event(request)

    def is_running(self, response_id: str) -> bool:
        """Whether ``response_id`` is the response of one of our requests."""
        return response_id in self._by_response

    def on_text(self, response_id: str, text: str) -> bool:
        """Text of a response: kept when it is one of ours."""
        request = self._by_response.get(response_id)
        if request is None:
            return False
        request.text.append(text)
        return True

    def on_transcript(self, response_id: str, text: str) -> bool:
        """Transcript of a response's audio: kept when it is one of ours."""
        request = self._by_response.get(response_id)
        if request is None:
            return False
        request.transcript.append(text)
        return True

    def on_audio(self, response_id: str, audio: bytes) -> bool:
        """Audio of a response (decoded from base64 by the caller): kept when ours."""
        request = self._by_response.get(response_id)
        if request is None:
            return False
        request.audio.append(audio)
        return True

    def on_call_named(self, response_id: str, call_id: str, name: str) -> None:
        """A function call of one of our responses began: its name, kept in case."""
        request = self._by_response.get(response_id)
        if request is not None:
            request.call_names[call_id] = name

    def on_function_call(self, response_id: str, name: str, call_id: str, arguments: str) -> bool:
        """A finished function call of a response: kept (never run) when ours."""
        request = self._by_response.get(response_id)
        if request is None:
            return False
        name = name or request.call_names.get(call_id, "")
        request.calls.append(OutOfBandFunctionCall(name, call_id, arguments))
        return True

    def on_done(self, response: Any, usage: Any = None) -> OutOfBandOutcome | None:
        """``response.done``: the outcome, when it was one of ours.

        Args:
            response: The ``response`` of the event.
            usage: Its usage (wherever the provider put it), a model or None.
        """
        response_id = getattr(response, "id", None) or ""
        request = self._by_response.pop(response_id, None)
        if request is None:
            return None
        self._sent.pop(request.request_id, None)
        status = getattr(response, "status", None) or "completed"
        details = getattr(response, "status_details", None)
        if details is not None and hasattr(details, "to_dict"):
            details = details.to_dict()
        usage_dict = usage.to_dict() if usage is not None and hasattr(usage, "to_dict") else usage
        if not request.text and not request.transcript:
            _text_from_output(request, getattr(response, "output", None) or [])
        result = request.result(status, usage_dict, details)
        if status == "failed":
            return OutOfBandOutcome(
                request.request_id, result, f"the response failed: {_failure(details)}"
            )
        return OutOfBandOutcome(request.request_id, result)

    def on_refused(
        self, event_id: str | None, already_active: bool, message: str
    ) -> OutOfBandOutcome | None:
        """An ``error`` named a ``response.create`` of ours: retry it later, or give up.

        Args:
            event_id: The client event the error names.
            already_active: The error is ``conversation_already_has_active_response``.
            message: The server's message.

        Returns:
            The failed outcome, or None when the request waits to be sent again (or
            the error was not about one of ours).
        """
        if event_id is None or not event_id.startswith(EVENT_PREFIX):
            return None
        request = self._sent.pop(event_id[len(EVENT_PREFIX) :], None)
        if request is None:
            return None
        if already_active and not request.cancelled:
            # This server runs one response at a time after all: go serial.
            self.concurrent = False
            self._waiting.appendleft(request)
            return None
        return OutOfBandOutcome(request.request_id, None, message)

    def cancel(self, request_id: str) -> tuple[list[ResponseCancelEvent], OutOfBandOutcome | None]:
        """The caller gave up on a request.

        Returns:
            The ``response.cancel`` to send (none while its response has not started:
            it goes once ``response.created`` comes), and the outcome when the request
            had not even been sent.
        """
        for waiting in self._waiting:
            if waiting.request_id == request_id:
                self._waiting.remove(waiting)
                return [], OutOfBandOutcome(request_id, None, "cancelled before it was sent")
        request = self._sent.get(request_id)
        if request is None or request.cancelled:
            return [], None
        request.cancelled = True
        if request.response_id is None:
            return [], None
        return [_cancel_event(request)], None

    def is_cancel(self, event_id: str | None) -> bool:
        """Whether an ``error`` answers one of our cancels (the response had ended)."""
        return event_id is not None and event_id.startswith(CANCEL_PREFIX)

    def fail_all(self, message: str) -> list[OutOfBandOutcome]:
        """The connection closed: every request ends, what it produced so far kept."""
        ended = [
            OutOfBandOutcome(r.request_id, r.result("failed") if r.response_id else None, message)
            for r in self._sent.values()
        ]
        ended.extend(OutOfBandOutcome(r.request_id, None, message) for r in self._waiting)
        self._waiting.clear()
        self._sent.clear()
        self._by_response.clear()
        return ended


def _cancel_event(request: _Request) -> ResponseCancelEvent:
    return ResponseCancelEvent(
        response_id=request.response_id, event_id=CANCEL_PREFIX + request.request_id
    )


def _text_from_output(request: _Request, output: list[Any]) -> None:
    # A server that sends no deltas (or a client that missed them) still gives the
    # finished items in response.done.
    for item in output:
        for part in getattr(item, "content", None) or []:
            text = getattr(part, "text", None)
            transcript = getattr(part, "transcript", None)
            if isinstance(text, str):
                request.text.append(text)
            if isinstance(transcript, str):
                request.transcript.append(transcript)


def _failure(details: Any) -> str:
    if isinstance(details, dict):
        error = details.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(details or "no details")
