"""Inputs from the server: every server event, and the two streaming hot paths.

:meth:`ServerEventInputs.server_event` takes what
:func:`~pipecat_realtime_openai.protocol.parse.parse_server_event` returned and never
raises for a bad event: a malformed frame is logged as such, an unknown type at debug
level (an excerpt of it: the name is server-controlled text), anything else is
skipped. Assistant audio and its transcript take the direct paths
:meth:`~ServerEventInputs.audio_out` and :meth:`~ServerEventInputs.transcript_out`,
which build no action list.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from loguru import logger

from pipecat_realtime_openai.core.actions import (
    Action,
    AudioOut,
    ItemRetrieved,
    Metrics,
    MetricsOp,
    Notify,
    OutOfBandResult,
    ReportError,
    ResponseFinished,
    ResponseStarted,
    RetrievalFailed,
    RunFunctionCall,
    Send,
    SendInputAudio,
    TextOut,
    UsageReport,
)
from pipecat_realtime_openai.core.errors import classify_error
from pipecat_realtime_openai.core.function_calls import PendingCall
from pipecat_realtime_openai.core.mcp_inputs import McpInputs
from pipecat_realtime_openai.core.out_of_band import EVENT_PREFIX as OUT_OF_BAND_PREFIX
from pipecat_realtime_openai.core.phase import Phase
from pipecat_realtime_openai.core.reconnect import ReconnectInfo
from pipecat_realtime_openai.core.usage import response_usage
from pipecat_realtime_openai.core.user_speech_events import UserSpeechInputs
from pipecat_realtime_openai.protocol import server_events as ev
from pipecat_realtime_openai.protocol.fast import ContentDelta
from pipecat_realtime_openai.protocol.parse import MalformedEvent, excerpt
from pipecat_realtime_openai.protocol.responses import RealtimeError

RETRIEVE_PREFIX = "rci_"
"""Event id prefix of ``conversation.item.retrieve``: ties an error back to the item."""

Handler = Callable[[Any, float, list[Action]], None]


class ServerEventInputs(McpInputs, UserSpeechInputs):
    """Applies server events to the session (MCP news: :class:`McpInputs`)."""

    @cached_property
    def _event_handlers(self) -> dict[type, Handler]:
        return {
            ev.SessionCreatedEvent: self._on_session_created,
            ev.SessionUpdatedEvent: self._on_session_updated,
            ev.ConversationCreated: self._on_conversation_created,
            ev.InputAudioBufferSpeechStarted: self._on_speech_started,
            ev.InputAudioBufferSpeechStopped: self._on_speech_stopped,
            ev.InputAudioBufferCommitted: self._on_committed,
            ev.ConversationItemAdded: self._on_item_added,
            ev.ConversationItemCreated: self._on_item_added,
            ev.ConversationItemDone: self._on_item_done,
            ev.ConversationItemDeleted: self._on_item_deleted,
            ev.ConversationItemTruncated: self._on_item_truncated,
            ev.ConversationItemRetrieved: self._on_item_retrieved,
            ev.ConversationItemInputAudioTranscriptionDelta: self._on_transcription_delta,
            ev.ConversationItemInputAudioTranscriptionCompleted: self._on_transcription_done,
            ev.ConversationItemInputAudioTranscriptionUpdated: self._on_transcription_update,
            ev.ConversationItemInputAudioTranscriptionSegment: self._on_transcription_segment,
            ev.ConversationItemInputAudioTranscriptionFailed: self._on_transcription_failed,
            ev.ResponseCreated: self._on_response_created,
            ev.ResponseOutputItemAdded: self._on_output_item_added,
            ev.ResponseOutputItemDone: self._on_output_item_done,
            ev.ResponseFunctionCallArgumentsDone: self._on_arguments_done,
            ev.ResponseAudioDone: self._on_audio_done,
            ev.ResponseDone: self._on_response_done,
            ev.RateLimitsUpdated: self._on_rate_limits,
            ev.ErrorEvent: self._on_error,
            **self._mcp_event_handlers,
        }

    def server_event(self, event: Any, now: float) -> list[Action]:
        """Apply one parsed server event (not an audio or transcript delta).

        Args:
            event: A parsed event, an ``UnknownServerEvent`` or a ``MalformedEvent``.
            now: Clock reading (playback position at a barge-in, reconnect downtime).

        Returns:
            What to do about it.
        """
        out: list[Action] = []
        self._conversation.expire(now)
        handler = self._event_handlers.get(type(event))
        if handler is not None:
            handler(event, now, out)
        elif isinstance(event, MalformedEvent):
            logger.warning(f"{self._name}: skipping malformed server event: {event.reason}")
        elif isinstance(event, ev.UnknownServerEvent):
            # The type name is server-controlled text like any field: log an excerpt.
            logger.debug(f"{self._name}: skipping unknown server event {excerpt(event.type)}")
        else:
            logger.trace(f"{self._name}: server event {getattr(event, 'type', event)}")
        return out

    # -- the hot paths ---------------------------------------------------------------

    def audio_out(self, delta: ContentDelta, audio: bytes, now: float) -> AudioOut | None:
        """Assistant audio arrived (one delta, or a run of them for one content part).

        Args:
            delta: The (first) ``response.output_audio.delta``.
            audio: The decoded wire bytes of the whole run.
            now: Clock reading (playback bookkeeping).

        Returns:
            The audio to play, or None when it belongs to an interrupted or unknown
            response (late audio is dropped).
        """
        response_id = delta.response_id
        lifecycle = self._responses.lifecycle
        if self._sideband:
            # A sideband call's audio is the server's to play, never the pipeline's.
            return None
        if not lifecycle.accepts_audio(response_id):
            # An out-of-band answer's audio is kept for its caller, never played.
            self._out_of_band.on_audio(response_id, audio)
            return None
        # The whole run belongs to one item, so its byte count keeps truncation exact.
        if not self._playback.on_audio(
            delta.item_id, delta.content_index, response_id, len(audio), now
        ):
            return None
        timeline = self._timeline
        if timeline.awaiting_audio:
            timeline.audio_received(response_id, now)
        opens = lifecycle.on_audio(response_id)
        if opens:
            self._config.mark_audio_produced()
        decoder = self._decoder
        pcm = audio if decoder.passthrough else decoder.decode(audio)
        return AudioOut(pcm, decoder.sample_rate, opens)

    def transcript_out(self, delta: ContentDelta, text: str) -> TextOut | None:
        """The transcript of assistant audio arrived.

        Returns:
            The text to show, or None for empty text or a stale response.
        """
        response_id = delta.response_id
        lifecycle = self._responses.lifecycle
        if not text or not lifecycle.accepts_audio(response_id):
            self._out_of_band.on_transcript(response_id, text)
            return None
        self._replies.setdefault(response_id, []).append(text)
        # The transcript can lead the audio: the speech opens before any spoken text.
        opens = lifecycle.on_audio(response_id)
        if opens:
            self._config.mark_audio_produced()
        return TextOut(text, opens)

    def text_out(self, delta: ContentDelta, text: str) -> bool:
        """Text of a text-only response arrived.

        Returns:
            True when it is to be shown (not empty, not of a stale response).
        """
        response_id = delta.response_id
        if not text or not self._responses.lifecycle.accepts_audio(response_id):
            self._out_of_band.on_text(response_id, text)
            return False
        self._replies.setdefault(response_id, []).append(text)
        return True

    # -- session -----------------------------------------------------------------------

    def _on_session_created(self, event: Any, now: float, out: list[Action]) -> None:
        if self._config.has_sent:
            # A sideband server's late session.created: the configuration already went
            # out on this connection, and sending it again would only repeat it.
            logger.debug(f"{self._name}: session.created after the session was configured")
            return
        self._update_session(out, configure=True)

    def _on_conversation_created(
        self, event: ev.ConversationCreated, now: float, out: list[Action]
    ) -> None:
        conversation_id = event.conversation.id
        resumed = (
            conversation_id is not None
            and conversation_id == self.resumable_conversation
            and self._conversation.restore_pending
        )
        self._conversation_id = conversation_id
        if resumed:
            logger.info(
                f"{self._name}: {self._dialect.provider} resumed conversation "
                f"{conversation_id}; it replays the items, only unconfirmed ones are sent again"
            )
            self._conversation.on_resumed_by_server()

    def _on_session_updated(self, event: Any, now: float, out: list[Action]) -> None:
        if self._phase.phase is Phase.CONFIGURING:
            self._on_configured(now, out)

    def _on_configured(self, now: float, out: list[Action]) -> None:
        """The configuration applies: restore, then release what waited.

        Order on the wire: the conversation items (restore), the context seed if the
        conversation has none yet, items made meanwhile, then the owed response and the
        held user audio. With server VAD the response goes first, so speech held
        during the outage interrupts it like a barge-in; in manual turn mode the held
        audio and its commits go first, because the response must hear them.
        """
        conversation = self._conversation
        if self._sideband:
            # The call, and its conversation, stayed on the server: nothing to rebuild.
            conversation.on_kept_by_server()
        restoring = conversation.restore_pending
        self._phase.move(Phase.RESTORING if restoring else Phase.READY, "session configured")
        restored = conversation.restore(self._options.max_restored_items)
        out.extend(Send(event) for event in restored)
        self._seed_if_needed(out)
        self._phase.move(Phase.READY, "conversation restored")
        if self.manual_turns:
            self._release_input(out)
            self._release_deferred_request(out)
        else:
            self._release_deferred_request(out)
            self._release_input(out)
        self._send_out_of_band(out)
        self._on_resumed(len(restored), now, out)

    def _release_input(self, out: list[Action]) -> None:
        self._input.release()
        out.append(SendInputAudio())

    def _release_deferred_request(self, out: list[Action]) -> None:
        if self._responses.take_deferred():
            self._request_response(out)

    def _on_resumed(self, restored: int, now: float, out: list[Action]) -> None:
        outage, self._outage = self._outage, None
        attempt = self._planner.attempt
        self._planner.on_restored()
        if outage is None:
            return
        downtime = now - outage.started_at
        self.reconnects += 1
        self.last_downtime = downtime
        logger.info(
            f"{self._name}: reconnected after {downtime:.3f} s ({outage.reason}; "
            f"attempt {attempt}; {restored} items restored)"
        )
        info = ReconnectInfo(attempt, outage.reason, downtime=downtime)
        out.append(Notify("on_reconnected", (info,)))

    # -- conversation items ------------------------------------------------------------

    def _on_item_added(self, event: Any, now: float, out: list[Action]) -> None:
        conversation = self._conversation
        conversation.on_item_added(event.item, event.previous_item_id)
        if not conversation.is_restored_echo(event.item.id):
            out.append(Notify("on_conversation_item_created", (event.item.id, event.item)))
        self._mcp_item(event.item, False, out)

    def _on_item_done(self, event: ev.ConversationItemDone, now: float, out: list[Action]) -> None:
        conversation = self._conversation
        conversation.mirror.on_item_done(event.item, event.previous_item_id)
        if not conversation.is_restored_echo(event.item.id, done=True):
            out.append(Notify("on_conversation_item_updated", (event.item.id, event.item)))
        self._mcp_item(event.item, True, out)

    def _on_item_deleted(
        self, event: ev.ConversationItemDeleted, now: float, out: list[Action]
    ) -> None:
        self._conversation.on_item_deleted(event.item_id)

    def _on_item_truncated(
        self, event: ev.ConversationItemTruncated, now: float, out: list[Action]
    ) -> None:
        self._conversation.mirror.on_item_truncated(
            event.item_id, event.content_index, event.audio_end_ms
        )

    def _on_item_retrieved(
        self, event: ev.ConversationItemRetrieved, now: float, out: list[Action]
    ) -> None:
        item_id = event.item.id or ""
        if item_id in self._retrievals:
            self._retrievals.discard(item_id)
            out.append(ItemRetrieved(item_id, event.item))

    # -- responses -------------------------------------------------------------------------

    def _on_response_created(
        self, event: ev.ResponseCreated, now: float, out: list[Action]
    ) -> None:
        if self._out_of_band.owns(event.response):
            # An out-of-band answer: not the bot's turn. One cancelled before it started
            # is cancelled now that it has an id.
            cancel = self._out_of_band.cancel_due(event.response)
            if cancel is not None:
                out.append(Send(cancel))
            return
        response_id = event.response.id or ""
        self._turns_ended(self._timeline.response_created(response_id, now), out)
        self._replies[response_id] = []
        if self._responses.on_created(response_id):
            out.append(ResponseStarted())

    def _on_output_item_added(
        self, event: ev.ResponseOutputItemAdded, now: float, out: list[Action]
    ) -> None:
        item = event.item
        if self._out_of_band.is_running(event.response_id):
            # Its calls go back to its caller, never to the runner.
            if item.type == "function_call" and item.call_id and item.name:
                self._out_of_band.on_call_named(event.response_id, item.call_id, item.name)
            return
        if item.type == "function_call" and item.call_id and item.name:
            self._calls.on_call_added(item.call_id, item.name, item.id or "", event.response_id)
        else:
            self._mcp_item(item, False, out)

    def _on_output_item_done(
        self, event: ev.ResponseOutputItemDone, now: float, out: list[Action]
    ) -> None:
        self._mcp_item(event.item, True, out)

    def _on_arguments_done(
        self, event: ev.ResponseFunctionCallArgumentsDone, now: float, out: list[Action]
    ) -> None:
        if self._out_of_band.on_function_call(
            event.response_id, event.name or "", event.call_id, event.arguments
        ):
            return
        # A call of a response the user talked over waits for its response.done: a
        # cancelled one's arguments may be cut short, and the user's turn brings the
        # answer; one that completes after all (the interruption only raced it) runs.
        pending = self._calls.on_arguments_done(
            event.call_id,
            event.arguments,
            name=event.name,
            item_id=event.item_id,
            response_id=event.response_id,
            hold=self._responses.lifecycle.interrupted(event.response_id),
        )
        if pending is not None:
            self._run_call(pending, now, out)

    def _run_call(self, pending: PendingCall, now: float, out: list[Action]) -> None:
        self._timeline.tool_started(pending.response_id, pending.call_id, pending.name, now)
        self._conversation.mirror.on_function_call_arguments(
            pending.item_id, pending.call_id, pending.name, pending.raw_arguments
        )
        if pending.error is not None:
            # The model produced unusable arguments: tell it, so it can try again.
            logger.warning(f"{self._name}: function call {pending.name}: {pending.error}")
            self._timeline.tool_ended(pending.call_id, now)
            self._deliver_tool_output(pending.call_id, pending.error, run_llm=True, out=out)
            return
        out.append(RunFunctionCall(pending.call_id, pending.name, pending.arguments))

    def _on_audio_done(self, event: ev.ResponseAudioDone, now: float, out: list[Action]) -> None:
        self._playback.on_audio_done(event.item_id, event.content_index)

    def _on_response_done(self, event: ev.ResponseDone, now: float, out: list[Action]) -> None:
        response = event.response
        response_id = response.id or ""
        self._playback.on_response_done(response_id)
        outcome = self._out_of_band.on_done(response, response_usage(event))
        if outcome is not None:
            out.append(OutOfBandResult(outcome.request_id, outcome.response, outcome.error))
            released = self._responses.on_out_of_band_done(response_id)
            if released is not None:
                self._settle(*released, out)
            self._send_out_of_band(out)
            return
        reply = "".join(self._replies.pop(response_id, []))
        items = [item.id for item in response.output or [] if item.type == "message" and item.id]
        self._conversation.sync.remember_spoken(reply, items)
        usage = response_usage(event)
        if usage is not None:
            out.append(UsageReport(usage))
        out.append(Metrics(MetricsOp.STOP_PROCESSING))
        out.append(ResponseFinished(event))
        closing, due = self._responses.on_done(response_id)
        self._settle(closing, due, out)
        # Compatible servers send a string here ("unimplemented").
        details = response.status_details if isinstance(response.status_details, dict) else {}
        if response.status == "failed":
            error = details.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else None
            text = f"Response {response_id} failed: {message or details}"
            out.append(ReportError(text, "server"))
        elif response.status == "incomplete":
            # Not an error (the reply is kept as far as it went), but a cut-off reply
            # sounds broken, so say why.
            reason = details.get("reason") or "unknown reason"
            hint = " (raise max_output_tokens)" if reason == "max_output_tokens" else ""
            logger.warning(f"{self._name}: response {response_id} ended early: {reason}{hint}")
        for item in response.output or []:
            out.append(Notify("on_conversation_item_updated", (item.id, item)))
        completed = response.status == "completed"
        for pending in self._calls.release_held(response_id, completed=completed):
            self._run_call(pending, now, out)
        if self._calls.on_response_done(response_id):
            self._request_response(out)
        self._send_out_of_band(out)
        ended = self._timeline.response_done(
            response_id,
            now,
            reply_items=items,
            calls_tools=any(item.type == "function_call" for item in response.output or []),
            status=response.status,
            playing=self._playback.is_playing,
        )
        self._turns_ended(ended, out)

    def _on_rate_limits(self, event: ev.RateLimitsUpdated, now: float, out: list[Action]) -> None:
        # A bot near its token limit can shorten replies or shed load before it is refused.
        out.append(Notify("on_rate_limits_updated", (list(event.rate_limits or []),)))

    # -- errors ------------------------------------------------------------------------------

    def _on_error(self, event: ev.ErrorEvent, now: float, out: list[Action]) -> None:
        self._apply_error_policy(event.error, now, out)

    def _apply_error_policy(self, error: RealtimeError, now: float, out: list[Action]) -> None:
        message = error.message or "unknown error"
        event_id = error.event_id
        if error.code == "item_retrieve_invalid_item_id" and self._fail_retrieval(
            event_id, message, out
        ):
            return
        if event_id:
            # A refused change is forgotten (and never sent again by a restore).
            self._conversation.on_refused(event_id, message)
        if error.code == "input_audio_buffer_commit_empty":
            self._turn_audio.on_commit_refused()
        already_active = error.code == "conversation_already_has_active_response"
        if self._out_of_band.is_cancel(event_id):
            # The out-of-band response ended before its cancel arrived: nothing to do.
            logger.debug(f"{self._name}: an out-of-band cancel came late: {message}")
            return
        if event_id and event_id.startswith(OUT_OF_BAND_PREFIX):
            ended = self._out_of_band.on_refused(event_id, already_active, message)
            if ended is not None:
                out.append(OutOfBandResult(ended.request_id, ended.response, ended.error))
            else:
                logger.debug(f"{self._name}: an out-of-band request waits for the server")
                self._send_out_of_band(out)
            return
        refused = self._responses.on_request_error(event_id, already_active)
        if refused is not None:
            self._settle(*refused, out)
            if already_active:
                # Handled: the request is sent again when the running response ends.
                logger.warning(
                    f"{self._name}: {message} (the response is requested again after it)"
                )
                return
        rule = classify_error(error.code, error.type)
        self._report(f"{error.code or error.type}: {message}", rule, error.code, out)
        if (
            self._phase.phase is Phase.CONFIGURING
            and event_id is not None
            and event_id == self._link.configuring_event_id
            and rule.action.keeps_session
        ):
            # The server kept its previous configuration and sends no session.updated;
            # carry on with it rather than hold audio and responses forever.
            self._on_configured(now, out)

    def _fail_retrieval(self, event_id: str | None, message: str, out: list[Action]) -> bool:
        if not event_id or not event_id.startswith(RETRIEVE_PREFIX):
            return False
        item_id = event_id[len(RETRIEVE_PREFIX) :]
        if item_id not in self._retrievals:
            return False
        self._retrievals.discard(item_id)
        out.append(RetrievalFailed(item_id, message))
        return True
