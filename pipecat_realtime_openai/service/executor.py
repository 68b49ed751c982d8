"""Actions -> socket sends and Pipecat frames: the executing half of the service.

:class:`ActionExecutor` carries out what the core
(:class:`~pipecat_realtime_openai.core.session.RealtimeSession`) decides, one handler per
action type of :data:`~pipecat_realtime_openai.core.actions.Action`. It decides
nothing: the order of the actions is the order of their effects. A new action type
without a handler stops the service at construction (and a test), rather than being
dropped at run time.

Received server events pass through here too (:meth:`ActionExecutor._on_server_event`):
assistant audio and transcript deltas take the core's direct paths and become frames
at once, with no action list; every other event goes to the core and its actions are
carried out.
"""

from __future__ import annotations

import asyncio
import binascii
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, get_args

from loguru import logger
from pipecat.adapters.llm.services.open_ai_realtime_adapter import OpenAIRealtimeLLMAdapter
from pipecat.frames.frames import (
    ErrorFrame,
    InterimTranscriptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    TextType,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext, standard_message_text
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import FunctionCallFromLLM, LLMService
from pipecat.transcriptions.language import Language
from pipecat.turns.speculation_gate import SpeculationState
from pipecat.utils.errors import ErrorCategory
from pipecat.utils.time import time_now_iso8601
from pipecat.utils.tracing.service_decorators import traced_openai_realtime, traced_stt

from pipecat_realtime_openai.core import actions as act
from pipecat_realtime_openai.core.mcp import McpApprovalRequest, McpDecision
from pipecat_realtime_openai.core.session import RealtimeSession
from pipecat_realtime_openai.core.turn_timeline import TurnTimelines
from pipecat_realtime_openai.protocol.client_events import ClientEvent
from pipecat_realtime_openai.protocol.fast import AudioDelta, DeltaRun, TextDelta, TranscriptDelta
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.protocol.shapes import Encoder
from pipecat_realtime_openai.service.application import ApplicationContext
from pipecat_realtime_openai.service.context import language_of, token_usage
from pipecat_realtime_openai.service.mcp import (
    McpApprovalHandler,
    McpApprovals,
    call_result_frame,
    call_started_frames,
)
from pipecat_realtime_openai.service.out_of_band import OutOfBandWaiters
from pipecat_realtime_openai.service.timeline_metrics import TurnTimelineMetricsData
from pipecat_realtime_openai.service.wire import Wire

ActionHandler = Callable[[Any], Awaitable[None]]


class MissingActionHandler(TypeError):
    """The executor has no handler for an action type of the core."""


class ActionExecutor(LLMService[OpenAIRealtimeLLMAdapter]):
    """Carries out the core's actions on the socket and in the pipeline.

    Subclasses set ``_core``, ``_wire`` and ``_app`` (which knows the application's
    ``LLMContext``) before any action runs.
    """

    _core: RealtimeSession
    _timelines: TurnTimelines
    """The core's turn timelines (read on the audio hot path: no property call per chunk)."""
    _wire: Wire
    _app: ApplicationContext
    _encode: Encoder
    """Writes a client event in the provider's shape (``protocol.shapes.encoder_for``)."""
    _push_audio_directly: bool
    """No subclass overrides ``push_frame``: audio frames may skip its dispatch layers."""
    _ttfb_running = False
    """A TTFB measurement was started and not stopped yet (read per audio delta)."""

    def __init__(self, *, mcp_approval_handler: McpApprovalHandler | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.user_id = ""
        self._mcp_approvals = McpApprovals(
            mcp_approval_handler, str(self), self._answer_mcp_approval, self._report_mcp_error
        )
        self._retrieval_waiters: dict[str, list[asyncio.Future[ConversationItem]]] = {}
        self._out_of_band_waiters = OutOfBandWaiters()
        self._action_handlers: dict[type, ActionHandler] = {
            act.Send: self._on_send,
            act.SendInputAudio: self._on_send_input_audio,
            act.CloseConnection: self._on_close_connection,
            act.ResponseStarted: self._on_response_started,
            act.ResponseEnded: self._on_response_ended,
            act.BotSpeechStarted: self._on_bot_speech_started,
            act.BotSpeechStopped: self._on_bot_speech_stopped,
            act.UserSpeechStarted: self._on_user_speech_started,
            act.UserSpeechStopped: self._on_user_speech_stopped,
            act.UserTranscript: self._on_user_transcript,
            act.Metrics: self._on_metrics,
            act.TurnEnded: self._on_turn_ended,
            act.UsageReport: self._on_usage,
            act.ResponseFinished: self._on_response_finished,
            act.RunFunctionCall: self._on_run_function_call,
            act.McpCallStarted: self._on_mcp_call_started,
            act.McpCallEnded: self._on_mcp_call_ended,
            act.McpApprovalAsked: self._on_mcp_approval_asked,
            act.Notify: self._on_notify,
            act.ReportError: self._on_report_error,
            act.ConversationSeeded: self._on_conversation_seeded,
            act.ItemRetrieved: self._on_item_retrieved,
            act.RetrievalFailed: self._on_retrieval_failed,
            act.OutOfBandResult: self._on_out_of_band_result,
            act.RepairContext: self._on_repair_context,
        }
        missing = set(get_args(act.Action)) - self._action_handlers.keys()
        if missing:
            names = ", ".join(sorted(t.__name__ for t in missing))
            raise MissingActionHandler(f"no handler for core actions: {names}")

    async def _execute(self, actions: Sequence[act.Action]) -> None:
        """Carry out actions in order."""
        handlers = self._action_handlers
        for action in actions:
            await handlers[type(action)](action)

    # -- the wire --------------------------------------------------------------------------

    async def _on_send(self, action: act.Send) -> None:
        if action.span == "llm_setup":
            await self._send_setup(action.event)
        elif action.span == "llm_request":
            await self._send_request(action.event)
        else:
            await self._send_event(action.event)

    async def _send_event(self, event: ClientEvent) -> None:
        logger.trace(f"{self}: sending {event.type}")
        await self._wire.send_text(self._encode(event))

    @traced_openai_realtime(operation="llm_setup")
    async def _send_setup(self, event: ClientEvent) -> None:
        await self._send_event(event)

    @traced_openai_realtime(operation="llm_request")
    async def _send_request(self, event: ClientEvent) -> None:
        await self._send_event(event)

    async def _on_send_input_audio(self, action: act.SendInputAudio) -> None:
        await self._wire.send_input_audio(self._core.take_input_audio)

    async def _on_close_connection(self, action: act.CloseConnection) -> None:
        logger.debug(f"{self}: closing the Realtime connection ({action.reason})")
        await self._wire.close()

    # -- frames ------------------------------------------------------------------------------

    async def _on_response_started(self, action: act.ResponseStarted) -> None:
        await self.push_frame(LLMFullResponseStartFrame())

    async def _on_response_ended(self, action: act.ResponseEnded) -> None:
        await self.push_frame(LLMFullResponseEndFrame())

    async def _on_bot_speech_started(self, action: act.BotSpeechStarted) -> None:
        await self.push_frame(TTSStartedFrame())

    async def _on_bot_speech_stopped(self, action: act.BotSpeechStopped) -> None:
        await self.push_frame(TTSStoppedFrame())

    async def _on_user_speech_started(self, action: act.UserSpeechStarted) -> None:
        await self.broadcast_frame(ProposedUserStartedSpeakingFrame)

    async def _on_user_speech_stopped(self, action: act.UserSpeechStopped) -> None:
        await self.broadcast_frame(ProposedUserStoppedSpeakingFrame)

    async def _on_user_transcript(self, action: act.UserTranscript) -> None:
        language = language_of(action.language)
        if not action.final:
            interim = InterimTranscriptionFrame(
                action.text,
                self.user_id,
                time_now_iso8601(),
                language=language,
                result=action.event,
            )
            if action.segments:
                interim.metadata["speaker"] = action.segments[0].speaker
            await self.push_frame(interim, FrameDirection.UPSTREAM)
            return
        frame = TranscriptionFrame(
            action.text,
            self.user_id,
            time_now_iso8601(),
            language=language,
            result=action.event,
            finalized=True,
        )
        if action.segments:
            frame.metadata["speakers"] = list(dict.fromkeys(s.speaker for s in action.segments))
            frame.metadata["segments"] = [dataclasses.asdict(s) for s in action.segments]
        if action.confidence is not None:
            frame.metadata["confidence"] = action.confidence
        await self.push_frame(frame, FrameDirection.UPSTREAM)
        await self._trace_user_transcription(action.text, True, language)

    @traced_stt
    async def _trace_user_transcription(
        self, transcript: str, is_final: bool, language: Language | None = None
    ) -> None:
        """Give Pipecat's STT tracing a span for each final user transcript."""

    # -- metrics -----------------------------------------------------------------------------

    async def start_ttfb_metrics(self, *, start_time: float | None = None) -> None:
        """Start a time-to-first-byte measurement (Pipecat's), noting that one runs.

        Args:
            start_time: Optional start timestamp; now when None.
        """
        self._ttfb_running = True
        await super().start_ttfb_metrics(start_time=start_time)

    async def stop_ttfb_metrics(self, *, end_time: float | None = None) -> None:
        """Stop the time-to-first-byte measurement (Pipecat's) and push its result.

        Args:
            end_time: Optional end timestamp; now when None.
        """
        self._ttfb_running = False
        await super().stop_ttfb_metrics(end_time=end_time)

    async def _on_metrics(self, action: act.Metrics) -> None:
        if action.op is act.MetricsOp.START:
            await self.start_ttfb_metrics()
            await self.start_processing_metrics()
        elif action.op is act.MetricsOp.STOP_PROCESSING:
            await self.stop_processing_metrics()
        else:
            await self.stop_all_metrics()

    async def _on_turn_ended(self, action: act.TurnEnded) -> None:
        if self.can_generate_metrics() and self.metrics_enabled:
            data = TurnTimelineMetricsData.from_timeline(
                action.timeline, processor=self.name, model=str(self._settings.model or "")
            )
            await self.push_frame(MetricsFrame(data=[data]))
        await self._call_event_handler("on_turn_timeline", action.timeline)

    async def _on_usage(self, action: act.UsageReport) -> None:
        await self.start_llm_usage_metrics(token_usage(action.usage))

    async def _on_response_finished(self, action: act.ResponseFinished) -> None:
        await self._trace_response_done(action.event)

    @traced_openai_realtime(operation="llm_response")
    async def _trace_response_done(self, event: Any) -> None:
        """Give Pipecat's realtime tracing a span for each finished response."""

    # -- the application -------------------------------------------------------------------

    async def _on_run_function_call(self, action: act.RunFunctionCall) -> None:
        call = FunctionCallFromLLM(
            function_name=action.name,
            tool_call_id=action.call_id,
            arguments=action.arguments,
            context=self._app.context,
        )
        await self.run_function_calls([call])

    async def _on_mcp_call_started(self, action: act.McpCallStarted) -> None:
        for frame in call_started_frames(action.call, self._app.context):
            await self.broadcast_frame_instance(frame)

    async def _on_mcp_call_ended(self, action: act.McpCallEnded) -> None:
        await self.broadcast_frame_instance(call_result_frame(action.call))

    async def _on_mcp_approval_asked(self, action: act.McpApprovalAsked) -> None:
        await self._call_event_handler("on_mcp_approval_request", action.request)
        await self._mcp_approvals.ask(action.request, self.create_task)

    async def _answer_mcp_approval(
        self, request: McpApprovalRequest, decision: McpDecision
    ) -> None:
        await self._execute(self._core.mcp_approval(request.id, decision.approve, decision.reason))

    async def _report_mcp_error(self, message: str, exc: Exception) -> None:
        await self.push_error(message, exception=exc)

    async def _on_notify(self, action: act.Notify) -> None:
        await self._call_event_handler(action.handler, *action.args)

    async def _on_report_error(self, action: act.ReportError) -> None:
        category = ErrorCategory(action.category)
        if not action.fatal:
            await self.push_error(action.message, category=category)
            return
        frame = ErrorFrame(error=action.message, category=category)
        # Set after construction: the constructor warns about the deprecated flag.
        frame.fatal = True
        await self.push_error_frame(frame, force_treat_as_permanent=True)

    async def _on_conversation_seeded(self, action: act.ConversationSeeded) -> None:
        if self._app.context is not None:
            self._log_llm_conversation_setup(self._app.context)

    async def _on_item_retrieved(self, action: act.ItemRetrieved) -> None:
        for future in self._retrieval_waiters.pop(action.item_id, []):
            if not future.done():
                future.set_result(action.item)

    async def _on_retrieval_failed(self, action: act.RetrievalFailed) -> None:
        for future in self._retrieval_waiters.pop(action.item_id, []):
            if not future.done():
                future.set_exception(RuntimeError(action.message))

    # -- server events in: the output hot path ------------------------------------

    async def _on_server_event(self, event: Any) -> None:
        """One received event: audio and transcript deltas take the direct paths."""
        kind = type(event)
        if kind is DeltaRun:
            first = event.first
            kind = type(first)
            if kind is AudioDelta:
                await self._play(first, event.audio())
            elif kind is TranscriptDelta:
                await self._show_transcript(first, event.text())
            else:
                await self._show_text(first, event.text())
        elif kind is AudioDelta:
            await self._play(event, binascii.a2b_base64(event.delta))
        elif kind is TranscriptDelta:
            await self._show_transcript(event, event.delta)
        elif kind is TextDelta:
            await self._show_text(event, event.delta)
        else:
            await self._execute(self._core.server_event(event, time.monotonic()))

    async def _play(self, delta: AudioDelta, audio: bytes) -> None:
        out = self._core.audio_out(delta, audio, time.monotonic())
        if out is None:
            return  # late audio of an interrupted or unknown response
        if self._ttfb_running:
            # Only the first chunk ends a measurement: later ones would be no-ops.
            await self.stop_ttfb_metrics()
        if out.opens_speech:
            await self.push_frame(TTSStartedFrame())
        if out.pcm:
            frame = TTSAudioRawFrame(audio=out.pcm, sample_rate=out.sample_rate, num_channels=1)
            if self._push_audio_directly and self._speculation_gate.state is SpeculationState.OPEN:
                # What LLMService's push_frame would do for it with its gate open (pass
                # it on), minus three dispatch layers per chunk.
                await FrameProcessor.push_frame(self, frame)
            else:
                await self.push_frame(frame)
            timeline = self._timelines
            if timeline.awaiting_push:
                timeline.audio_pushed(time.monotonic())

    async def _show_transcript(self, delta: TranscriptDelta, text: str) -> None:
        out = self._core.transcript_out(delta, text)
        if out is None:
            return
        if out.opens_speech:
            await self.push_frame(TTSStartedFrame())
        # RTVI shows bot text from LLMTextFrame; the aggregator builds the context from
        # the TTSTextFrame, so the LLMTextFrame must not be added to the context again.
        llm_text = LLMTextFrame(out.text)
        llm_text.append_to_context = False
        await self.push_frame(llm_text)
        tts_text = TTSTextFrame(out.text, text_type=TextType.SENTENCE)
        tts_text.includes_inter_frame_spaces = True
        await self.push_frame(tts_text)

    async def _show_text(self, delta: TextDelta, text: str) -> None:
        if self._core.text_out(delta, text):
            if self._ttfb_running:
                await self.stop_ttfb_metrics()
            await self.push_frame(LLMTextFrame(text))
            timeline = self._timelines
            if timeline.awaiting_text:
                timeline.text_pushed(delta.response_id, time.monotonic())

    async def _on_repair_context(self, action: act.RepairContext) -> None:
        context = self._app.context
        if context is None:
            return
        messages: list[Any] = list(context.get_messages())
        for edit in action.edits:
            if not 0 <= edit.index < len(messages) or (
                standard_message_text(messages[edit.index]) != edit.expected
            ):
                logger.debug(f"{self}: a context edit no longer applies ({edit.kind})")
                continue
            if edit.kind == "move":
                messages.insert(edit.to_index, messages.pop(edit.index))
            elif edit.kind == "text":
                messages[edit.index] = {**messages[edit.index], "content": edit.text}
            else:
                del messages[edit.index]
        context.set_messages(messages)

    async def _on_out_of_band_result(self, action: act.OutOfBandResult) -> None:
        self._out_of_band_waiters.settle(action)

    @property
    def _context(self) -> LLMContext | None:
        # Read by Pipecat's tracing decorators.
        return self._app.context
