"""One simulated response: the server events of a reply, step by step, and its cancel.

`ResponseRun` is pure: the connection layer pulls `next_step()` lists of events and
decides the pacing; `cancel()` closes whatever is open and ends the response the way the
real server does (open parts still get their ``.done`` events).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Generator, Iterator
from typing import Any

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.testing.conversation import ConversationStore
from pipecat_realtime_openai.testing.ids import new_id
from pipecat_realtime_openai.testing.mcp import McpRun, McpSessionState
from pipecat_realtime_openai.testing.responder import McpCall, Reply
from pipecat_realtime_openai.testing.synth import MS_PER_CHAR, speak, tokenize
from pipecat_realtime_openai.testing.usage import (
    CHARS_PER_TOKEN,
    OUTPUT_AUDIO_TOKENS_PER_S,
    response_usage,
)

AUDIO_CHUNK_MS = 100
# The transcript runs ahead of the audio, as on the real server: a token is sent once
# the audio has reached this many ms before its start.
TRANSCRIPT_LEAD_MS = 1000

# Rounds of MCP calls one response makes at most (each round's follow-up may call again).
MAX_MCP_ROUNDS = 8

EventFactory = Callable[..., dict[str, Any]]


class ResponseRun:
    """The events of one response, produced lazily so they can be paced or cancelled."""

    def __init__(
        self,
        *,
        reply: Reply,
        response: dict[str, Any],
        in_conversation: bool,
        store: ConversationStore,
        output_spec: AudioFormatSpec,
        speed: float,
        make_event: EventFactory,
        context_items: list[dict[str, Any]],
        instructions: str,
        previous_input_tokens: int,
        early_events: list[dict[str, Any]] | None = None,
        late_events: list[dict[str, Any]] | None = None,
        mcp: McpSessionState | None = None,
        session: dict[str, Any] | None = None,
        approved: list[McpRun] | None = None,
        follow_up: Callable[[], Reply] | None = None,
    ) -> None:
        """Prepare a response (nothing is emitted until `next_step`).

        Args:
            reply: What the assistant says and calls.
            response: The ``response`` object of `response.created` (status in_progress).
            in_conversation: False for out-of-band responses (``conversation: "none"``).
            store: The conversation the output items join (when in the conversation).
            output_spec: Output audio format.
            speed: Voice speed (scales audio duration).
            make_event: Builds event dicts (adds event ids).
            context_items: Items the response "read" (for the usage numbers).
            instructions: Instructions in force (for the usage numbers).
            previous_input_tokens: Input tokens of the previous response (cache model).
            early_events: Events to send right after `response.created` (transcription
                deltas of the turn that triggered the response).
            late_events: Events to send after the first audio chunk (the transcription
                ``completed``), or before `response.done` at the latest.
            mcp: The connection's MCP servers (MCP calls of the reply run there).
            session: The effective session (its ``mcp`` tools' approval policies).
            approved: Approved MCP calls this response runs first.
            follow_up: The responder's next reply, asked once MCP calls ran: the
                response goes on with it.
        """
        self.response = response
        self.id: str = response["id"]
        self._reply = reply
        self._in_conversation = in_conversation
        self._store = store
        self._spec = output_spec
        self._speed = speed
        self._event = make_event
        self._context_items = context_items
        self._instructions = instructions
        self._previous_input_tokens = previous_input_tokens
        self._early = list(early_events or [])
        self._late = list(late_events or [])
        self._mcp = mcp
        self._session = session or {}
        self._approved = list(approved or [])
        self._follow_up = follow_up
        self._audio_out = "audio" in (response.get("output_modalities") or ["audio"])
        self._steps = self._generate()
        self._announced = False
        self.finished = False
        self.audio_ms_sent = 0.0
        self.input_tokens = 0
        # State of the item being streamed, for closing it on cancel.
        self._open: dict[str, Any] | None = None

    def next_step(self) -> list[dict[str, Any]] | None:
        """Return the next batch of events, or None once `response.done` was produced."""
        if self.finished:
            return None
        try:
            return next(self._steps)
        except StopIteration:  # pragma: no cover - the last step sets `finished` first
            self.finished = True
            return None

    def cancel(self, reason: str) -> list[dict[str, Any]]:
        """End the response early.

        Args:
            reason: ``turn_detected`` (server VAD barge-in) or ``client_cancelled``.

        Returns:
            The ``.done`` events of the open item and the cancelled `response.done`.
        """
        if self.finished:
            return []
        self._steps.close()
        self.finished = True
        # The real server announces every response it ends: a cancel that beats the
        # first paced step still owes the client its `response.created`.
        events = [] if self._announced else [self._created()]
        events.extend(self._close_open_item("incomplete"))
        events.extend(self._late)
        self._late = []
        events.append(self._done("cancelled", {"type": "cancelled", "reason": reason}))
        return events

    # --- generation -------------------------------------------------------------------

    def _created(self) -> dict[str, Any]:
        self._announced = True
        return self._event("response.created", response=copy.deepcopy(self.response))

    def _generate(self) -> Generator[list[dict[str, Any]], None, None]:
        yield [self._created()]
        if self._early:
            yield self._early
            self._early = []
        output_index = 0
        budget = self._char_budget()
        cut_off = False
        reply = self._reply
        runs = list(self._approved)
        for _ in range(MAX_MCP_ROUNDS):
            for text in reply.messages():
                if budget is not None:
                    cut_off = len(text) > budget
                    text = text[:budget]
                    budget -= len(text)
                if text:
                    yield from self._message(
                        output_index, text, "incomplete" if cut_off else "completed"
                    )
                    output_index += 1
                if cut_off:
                    break
            if cut_off:
                break
            for call in reply.function_calls:
                yield from self._function_call(
                    output_index, call.name, call.arguments_json(), call.call_id
                )
                output_index += 1
            runs += [McpRun(call) for call in reply.mcp_calls]
            if not runs or self._mcp is None:
                break
            waiting = False
            for run in runs:
                if run.approval_request_id is None and self._mcp.needs_approval(
                    self._session, run.call
                ):
                    # The response ends with the request; the call waits for the answer.
                    yield self._approval_request(output_index, run.call)
                    waiting = True
                else:
                    yield from self._mcp_call(output_index, run)
                output_index += 1
            runs = []
            if waiting or self._follow_up is None:
                break
            # The model goes on in the same response, having read the calls' outputs.
            reply = self._follow_up()
        tail = self._late
        self._late = []
        self.finished = True
        if cut_off:
            details = {"type": "incomplete", "reason": "max_output_tokens"}
            yield [*tail, self._done("incomplete", details)]
        else:
            yield [*tail, self._done("completed", None)]

    def _char_budget(self) -> int | None:
        # How much reply text fits in `max_output_tokens` under the usage model: text at
        # 4 characters a token, or audio at 20 tokens a second (MS_PER_CHAR ms a character).
        limit = self.response.get("max_output_tokens")
        if not isinstance(limit, int) or isinstance(limit, bool):
            return None  # "inf"
        if self._audio_out:
            return int(limit * 1000 / OUTPUT_AUDIO_TOKENS_PER_S / MS_PER_CHAR)
        return limit * CHARS_PER_TOKEN

    def _add_item(self, output_index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
        events = [
            self._event(
                "response.output_item.added",
                response_id=self.id,
                output_index=output_index,
                item=copy.deepcopy(item),
            )
        ]
        if self._in_conversation:
            previous, _ = self._store.insert(item)
            events.append(
                self._event(
                    "conversation.item.added",
                    previous_item_id=previous,
                    item=copy.deepcopy(item),
                )
            )
        self.response["output"].append(item)
        return events

    def _message(
        self, output_index: int, text: str, status: str = "completed"
    ) -> Iterator[list[dict[str, Any]]]:
        item = {
            "id": new_id("item"),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        where = {"item_id": item["id"], "output_index": output_index, "content_index": 0}
        kind = "audio" if self._audio_out else "text"
        self._open = {"item": item, "where": where, "kind": kind, "text": "", "phase": "item"}
        yield self._add_item(output_index, item)
        part = (
            {"type": "audio", "transcript": ""} if kind == "audio" else {"type": "text", "text": ""}
        )
        self._open["phase"] = "part"
        yield [self._event("response.content_part.added", response_id=self.id, **where, part=part)]
        if kind == "audio":
            yield from self._stream_audio(text, where)
        else:
            for token in tokenize(text):
                self._open["text"] += token
                yield [
                    self._event(
                        "response.output_text.delta", response_id=self.id, **where, delta=token
                    )
                ]
        yield self._close_open_item(status)

    def _stream_audio(self, text: str, where: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        assert self._open is not None
        spoken = speak(text, self._spec, self._speed)
        chunk = max(self._spec.bytes_from_ms(AUDIO_CHUNK_MS), self._spec.bytes_per_sample)
        key = (where["item_id"], where["content_index"])
        next_token = 0
        sent = 0
        while sent < len(spoken.audio) or next_token < len(spoken.tokens):
            events: list[dict[str, Any]] = []
            horizon = self._spec.ms_from_bytes(sent) + TRANSCRIPT_LEAD_MS
            while next_token < len(spoken.tokens) and (
                spoken.token_start_ms[next_token] <= horizon or sent >= len(spoken.audio)
            ):
                token = spoken.tokens[next_token]
                self._open["text"] += token
                events.append(
                    self._event(
                        "response.output_audio_transcript.delta",
                        response_id=self.id,
                        **where,
                        delta=token,
                    )
                )
                next_token += 1
            if sent < len(spoken.audio):
                piece = spoken.audio[sent : sent + chunk]
                sent += len(piece)
                # Bookkeeping before sending: truncation is judged against audio generated.
                self._store.audio_ms[key] = self._spec.ms_from_bytes(sent)
                self.audio_ms_sent += len(piece) / self._spec.bytes_per_ms
                # Built as a plain dict: this is the audio hot path.
                events.append(
                    self._event(
                        "response.output_audio.delta",
                        response_id=self.id,
                        **where,
                        delta=base64.b64encode(piece).decode("ascii"),
                    )
                )
            yield events
            if self._late:
                yield self._late
                self._late = []

    def _function_call(
        self, output_index: int, name: str, arguments: str, call_id: str | None
    ) -> Iterator[list[dict[str, Any]]]:
        item = {
            "id": new_id("item"),
            "type": "function_call",
            "status": "in_progress",
            "name": name,
            "call_id": call_id or new_id("call"),
            "arguments": "",
        }
        where = {"item_id": item["id"], "output_index": output_index, "call_id": item["call_id"]}
        self._open = {
            "item": item,
            "where": where,
            "kind": "function_call",
            "text": "",
            "phase": "item",
        }
        yield self._add_item(output_index, item)
        for piece in tokenize(arguments):
            self._open["text"] += piece
            yield [
                self._event(
                    "response.function_call_arguments.delta",
                    response_id=self.id,
                    **where,
                    delta=piece,
                )
            ]
        yield self._close_open_item("completed")

    def _mcp_call(self, output_index: int, run: McpRun) -> Iterator[list[dict[str, Any]]]:
        assert self._mcp is not None
        call = run.call
        item: dict[str, Any] = {
            "id": new_id("mcp"),
            "type": "mcp_call",
            "server_label": call.server_label,
            "name": call.name,
            "arguments": "",
        }
        if run.approval_request_id is not None:
            item["approval_request_id"] = run.approval_request_id
        where = {"item_id": item["id"], "output_index": output_index}
        self._open = {"item": item, "where": where, "kind": "mcp_call", "text": "", "phase": "item"}
        yield self._add_item(output_index, item)
        arguments = call.arguments_json()
        for piece in tokenize(arguments):
            self._open["text"] += piece
            yield [
                self._event(
                    "response.mcp_call_arguments.delta", response_id=self.id, **where, delta=piece
                )
            ]
        item["arguments"] = arguments
        self._open = None
        yield [
            self._event(
                "response.mcp_call_arguments.done",
                response_id=self.id,
                **where,
                arguments=arguments,
            ),
            self._event("response.mcp_call.in_progress", **where),
        ]
        self._mcp.run(self._session, run)
        if run.error is not None:
            item["error"] = copy.deepcopy(run.error)
            outcome = self._event("response.mcp_call.failed", **where)
        else:
            item["output"] = run.output
            outcome = self._event("response.mcp_call.completed", **where)
        yield [outcome, *self._item_done(item, output_index)]

    def _approval_request(self, output_index: int, call: McpCall) -> list[dict[str, Any]]:
        assert self._mcp is not None
        item = {
            "id": self._mcp.ask(call),
            "type": "mcp_approval_request",
            "server_label": call.server_label,
            "name": call.name,
            "arguments": call.arguments_json(),
        }
        return self._add_item(output_index, item) + self._item_done(item, output_index)

    # --- closing ----------------------------------------------------------------------

    def _close_open_item(self, status: str) -> list[dict[str, Any]]:
        state = self._open
        if state is None:
            return []
        self._open = None
        item, where, kind, text = state["item"], state["where"], state["kind"], state["text"]
        events: list[dict[str, Any]] = []
        if kind == "function_call":
            item["arguments"] = text
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    response_id=self.id,
                    **where,
                    name=item["name"],
                    arguments=text,
                )
            )
        elif state["phase"] == "part":
            if kind == "audio":
                events.append(
                    self._event("response.output_audio.done", response_id=self.id, **where)
                )
                events.append(
                    self._event(
                        "response.output_audio_transcript.done",
                        response_id=self.id,
                        **where,
                        transcript=text,
                    )
                )
                part = {"type": "audio", "transcript": text}
                item["content"] = [{"type": "output_audio", "transcript": text}]
            else:
                events.append(
                    self._event(
                        "response.output_text.done", response_id=self.id, **where, text=text
                    )
                )
                part = {"type": "text", "text": text}
                item["content"] = [{"type": "output_text", "text": text}]
            events.append(
                self._event("response.content_part.done", response_id=self.id, **where, part=part)
            )
        if kind == "mcp_call":
            # Cut off while its arguments streamed: it never ran (MCP items have no status).
            item["arguments"] = text
        else:
            item["status"] = status
        return events + self._item_done(item, where["output_index"])

    def _item_done(self, item: dict[str, Any], output_index: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self._in_conversation:
            events.append(
                self._event(
                    "conversation.item.done",
                    previous_item_id=self._store.previous_id(item["id"]),
                    item=copy.deepcopy(item),
                )
            )
        events.append(
            self._event(
                "response.output_item.done",
                response_id=self.id,
                output_index=output_index,
                item=copy.deepcopy(item),
            )
        )
        return events

    def _done(self, status: str, details: dict[str, Any] | None) -> dict[str, Any]:
        usage = response_usage(
            context_items=self._context_items,
            instructions=self._instructions,
            output_items=self.response["output"],
            output_audio_ms=self.audio_ms_sent,
            store=self._store,
            previous_input_tokens=self._previous_input_tokens,
        )
        self.input_tokens = usage["input_tokens"]
        self.response.update(status=status, status_details=details, usage=usage)
        return self._event("response.done", response=copy.deepcopy(self.response))
