"""Server events -> Pipecat frames: the receive side of the service.

:class:`ServerEventHandler` turns each parsed server event into frames, metrics,
event-handler calls and function-call runs. Pure state decisions live in ``state/``;
this class applies them through the service it belongs to.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from loguru import logger
from pipecat.frames.frames import (
    InterimTranscriptionFrame,
    LLMTextFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    TextType,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSTextFrame,
)
from pipecat.metrics.metrics import LLMTokenUsage
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import FunctionCallFromLLM
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from pipecat_realtime_openai.protocol import server_events as ev
from pipecat_realtime_openai.protocol.fast import AudioDelta, DeltaRun, TextDelta, TranscriptDelta
from pipecat_realtime_openai.protocol.parse import MalformedEvent, excerpt
from pipecat_realtime_openai.protocol.responses import Usage

if TYPE_CHECKING:
    from pipecat_realtime_openai.service import OpenAIRealtimeLLMService


def token_usage(usage: Usage) -> LLMTokenUsage:
    """Convert the usage of a ``response.done`` into Pipecat's token usage metrics.

    Args:
        usage: The ``response.usage`` object.

    Returns:
        Prompt/completion/total tokens with cached and audio details (Pipecat's usage
        model has no text fields; text tokens are the totals minus the audio ones).
    """
    inp = usage.input_token_details
    out = usage.output_token_details
    cached = inp.cached_tokens_details if inp is not None else None
    return LLMTokenUsage(
        prompt_tokens=usage.input_tokens or 0,
        completion_tokens=usage.output_tokens or 0,
        total_tokens=usage.total_tokens or 0,
        cache_read_input_tokens=inp.cached_tokens if inp is not None else None,
        input_audio_tokens=inp.audio_tokens if inp is not None else None,
        output_audio_tokens=out.audio_tokens if out is not None else None,
        cache_read_input_audio_tokens=cached.audio_tokens if cached is not None else None,
    )


def language_of(code: str | None) -> Language | None:
    """Map a transcription language code (``"en"``, ``"fr-FR"``) to Pipecat's enum."""
    if not code:
        return None
    try:
        return Language(code)
    except ValueError:
        return None


class ServerEventHandler:
    """Applies server events to the service: frames out, state updates, tool runs.

    Args:
        service: The service this handler works for.
    """

    def __init__(self, service: OpenAIRealtimeLLMService) -> None:
        self._service = service
        # Text of the reply being produced, remembered at response.done so the
        # context sync recognises the assistant message the aggregator writes for it.
        self._reply_text: dict[str, list[str]] = {}
        self._run_handlers: dict[type, Callable[[DeltaRun], Awaitable[None]]] = {
            AudioDelta: self._on_audio,
            TranscriptDelta: self._on_transcript,
            TextDelta: self._on_text,
        }
        self._handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            DeltaRun: self._on_delta_run,
            AudioDelta: self._on_single_delta,
            TranscriptDelta: self._on_single_delta,
            TextDelta: self._on_single_delta,
            ev.SessionCreatedEvent: self._on_session_created,
            ev.SessionUpdatedEvent: self._on_session_updated,
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
            ev.ConversationItemInputAudioTranscriptionFailed: self._on_transcription_failed,
            ev.ResponseCreated: self._on_response_created,
            ev.ResponseOutputItemAdded: self._on_output_item_added,
            ev.ResponseFunctionCallArgumentsDone: self._on_arguments_done,
            ev.ResponseDone: self._on_response_done,
            ev.ErrorEvent: self._on_error,
        }

    def reset(self) -> None:
        """Forget per-connection state (replies in progress)."""
        self._reply_text.clear()

    async def handle(self, event: Any) -> None:
        """Apply one parsed server event; never raises for a bad event.

        Args:
            event: What :func:`~pipecat_realtime_openai.protocol.parse.parse_server_event`
                returned, or a :class:`~pipecat_realtime_openai.protocol.fast.DeltaRun`
                of deltas received back to back.
        """
        handler = self._handlers.get(type(event))
        if handler is not None:
            await handler(event)
        elif isinstance(event, MalformedEvent):
            logger.warning(f"{self._service}: skipping malformed server event: {event.reason}")
        elif isinstance(event, ev.UnknownServerEvent):
            # The type name is server-controlled text like any field: log an excerpt.
            logger.debug(f"{self._service}: skipping unknown server event {excerpt(event.type)}")
        else:
            logger.trace(f"{self._service}: server event {getattr(event, 'type', event)}")

    # -- session ---------------------------------------------------------------

    async def _on_session_created(self, event: ev.SessionCreatedEvent) -> None:
        await self._service._configure_session()

    async def _on_session_updated(self, event: ev.SessionUpdatedEvent) -> None:
        await self._service._on_session_confirmed()

    # -- user speech -------------------------------------------------------------

    async def _on_speech_started(self, event: ev.InputAudioBufferSpeechStarted) -> None:
        # Only sent with server turn detection; local turn detection handles this
        # itself in manual mode.
        self._service._turns.on_server_speech(True)
        self._service._turn_audio.on_speech_started(event.item_id, event.audio_start_ms)
        if self._service._server_interrupts_replies():
            await self._service._turns.on_barge_in()
        # else (interrupt_response off) the server keeps the reply going, so it plays on;
        # the turn is answered after it.
        await self._service.broadcast_frame(ProposedUserStartedSpeakingFrame)

    async def _on_speech_stopped(self, event: ev.InputAudioBufferSpeechStopped) -> None:
        self._service._turns.on_server_speech(False)
        self._keep_turn_audio(
            event.item_id,
            self._service._turn_audio.on_speech_stopped(event.item_id, event.audio_end_ms),
        )
        await self._service.start_ttfb_metrics()
        await self._service.start_processing_metrics()
        await self._service.broadcast_frame(ProposedUserStoppedSpeakingFrame)

    async def _on_transcription_delta(
        self, event: ev.ConversationItemInputAudioTranscriptionDelta
    ) -> None:
        if not event.delta:
            return
        frame = InterimTranscriptionFrame(
            event.delta,
            self._service.user_id,
            time_now_iso8601(),
            language=language_of(self._service._transcription_language()),
            result=event,
        )
        await self._service.push_frame(frame, FrameDirection.UPSTREAM)

    async def _on_transcription_done(
        self, event: ev.ConversationItemInputAudioTranscriptionCompleted
    ) -> None:
        service = self._service
        await service._call_event_handler("on_conversation_item_updated", event.item_id, None)
        language = language_of(service._transcription_language())
        service._conversation.sync.remember_spoken(event.transcript)
        service._conversation.mirror.on_input_transcript(
            event.item_id, event.content_index, event.transcript
        )
        frame = TranscriptionFrame(
            event.transcript,
            service.user_id,
            time_now_iso8601(),
            language=language,
            result=event,
            finalized=True,
        )
        await service.push_frame(frame, FrameDirection.UPSTREAM)
        await service._trace_user_transcription(event.transcript, True, language)

    async def _on_transcription_failed(
        self, event: ev.ConversationItemInputAudioTranscriptionFailed
    ) -> None:
        logger.warning(
            f"{self._service}: input transcription failed for item {event.item_id}: "
            f"{event.error.message}"
        )

    # -- conversation items ----------------------------------------------------

    async def _on_committed(self, event: ev.InputAudioBufferCommitted) -> None:
        service = self._service
        self._keep_turn_audio(event.item_id, service._turn_audio.on_committed(event.item_id))
        # A turn the server answers by itself: owed an answer until its response starts.
        service._responses.server_turn_pending = service._server_answers_turns()

    def _keep_turn_audio(self, item_id: str, audio: bytes | None) -> None:
        if audio:
            # Once per turn, not per chunk: the restore needs it as base64.
            encoded = base64.b64encode(audio).decode("ascii")
            self._service._conversation.mirror.on_input_audio(item_id, encoded)

    async def _on_item_added(
        self, event: ev.ConversationItemAdded | ev.ConversationItemCreated
    ) -> None:
        conversation = self._service._conversation
        conversation.mirror.on_item_added(event.item, event.previous_item_id)
        if conversation.is_restored_echo(event.item.id):
            return
        await self._service._call_event_handler(
            "on_conversation_item_created", event.item.id, event.item
        )

    async def _on_item_done(self, event: ev.ConversationItemDone) -> None:
        conversation = self._service._conversation
        conversation.mirror.on_item_done(event.item, event.previous_item_id)
        if conversation.is_restored_echo(event.item.id, done=True):
            return
        await self._service._call_event_handler(
            "on_conversation_item_updated", event.item.id, event.item
        )

    async def _on_item_deleted(self, event: ev.ConversationItemDeleted) -> None:
        self._service._conversation.mirror.on_item_deleted(event.item_id)

    async def _on_item_truncated(self, event: ev.ConversationItemTruncated) -> None:
        self._service._conversation.mirror.on_item_truncated(
            event.item_id, event.content_index, event.audio_end_ms
        )

    async def _on_item_retrieved(self, event: ev.ConversationItemRetrieved) -> None:
        self._service._retrievals.resolve(event.item.id or "", event.item)

    # -- responses ---------------------------------------------------------------

    async def _on_response_created(self, event: ev.ResponseCreated) -> None:
        service = self._service
        response_id = event.response.id or ""
        self._reply_text[response_id] = []
        await service._responses.on_created(response_id)

    async def _on_delta_run(self, run: DeltaRun) -> None:
        await self._run_handlers[type(run.first)](run)

    async def _on_single_delta(self, event: AudioDelta | TranscriptDelta | TextDelta) -> None:
        await self._run_handlers[type(event)](DeltaRun((event,)))

    async def _on_audio(self, run: DeltaRun) -> None:
        service = self._service
        first = run.first
        if not service._responses.lifecycle.accepts_audio(first.response_id):
            return  # late audio of an interrupted or unknown response
        audio = run.audio()
        # The whole run belongs to one item, so its byte count keeps truncation exact.
        if not service._playback.on_audio(
            first.item_id, first.content_index, first.response_id, len(audio), time.monotonic()
        ):
            return
        await service.stop_ttfb_metrics()
        await self._open_tts(first.response_id)
        pcm = service._output_decoder.decode(audio)
        if pcm:
            await service.push_frame(
                TTSAudioRawFrame(
                    audio=pcm, sample_rate=service._output_decoder.sample_rate, num_channels=1
                )
            )

    async def _open_tts(self, response_id: str) -> None:
        service = self._service
        if service._responses.lifecycle.on_audio(response_id):
            service._session_state.mark_audio_produced()
            await service.push_frame(TTSStartedFrame())

    async def _on_transcript(self, run: DeltaRun) -> None:
        service = self._service
        response_id = run.first.response_id
        text = run.text()
        if not text or not service._responses.lifecycle.accepts_audio(response_id):
            return
        self._reply_text.setdefault(response_id, []).append(text)
        # The transcript can lead the audio: the TTS pair opens before any spoken text.
        await self._open_tts(response_id)
        # RTVI shows bot text from LLMTextFrame; the aggregator builds the context from
        # the TTSTextFrame, so the LLMTextFrame must not be added to the context again.
        llm_text = LLMTextFrame(text)
        llm_text.append_to_context = False
        await service.push_frame(llm_text)
        tts_text = TTSTextFrame(text, text_type=TextType.SENTENCE)
        tts_text.includes_inter_frame_spaces = True
        await service.push_frame(tts_text)

    async def _on_text(self, run: DeltaRun) -> None:
        service = self._service
        response_id = run.first.response_id
        text = run.text()
        if not text or not service._responses.lifecycle.accepts_audio(response_id):
            return
        await service.stop_ttfb_metrics()
        self._reply_text.setdefault(response_id, []).append(text)
        await service.push_frame(LLMTextFrame(text))

    async def _on_output_item_added(self, event: ev.ResponseOutputItemAdded) -> None:
        item = event.item
        if item.type == "function_call" and item.call_id and item.name:
            self._service._calls.on_call_added(
                item.call_id, item.name, item.id or "", event.response_id
            )

    async def _on_arguments_done(self, event: ev.ResponseFunctionCallArgumentsDone) -> None:
        service = self._service
        pending = service._calls.on_arguments_done(
            event.call_id,
            event.arguments,
            name=event.name,
            item_id=event.item_id,
            response_id=event.response_id,
        )
        if pending is None:
            return
        service._conversation.mirror.on_function_call_arguments(
            pending.item_id, pending.call_id, pending.name, pending.raw_arguments
        )
        if pending.error is not None:
            # The model produced unusable arguments: tell it, so it can try again.
            logger.warning(f"{service}: function call {pending.name}: {pending.error}")
            await service._conversation.deliver_tool_output(
                pending.call_id, pending.error, run_llm=True
            )
            return
        call = FunctionCallFromLLM(
            function_name=pending.name,
            tool_call_id=pending.call_id,
            arguments=pending.arguments,
            context=service._conversation.context,
        )
        await service.run_function_calls([call])

    async def _on_response_done(self, event: ev.ResponseDone) -> None:
        service = self._service
        response = event.response
        response_id = response.id or ""
        reply = "".join(self._reply_text.pop(response_id, []))
        service._conversation.sync.remember_spoken(reply)
        if response.usage is not None:
            await service.start_llm_usage_metrics(token_usage(response.usage))
        await service.stop_processing_metrics()
        await service._trace_response_done(event)
        await service._responses.on_done(response_id)
        if response.status == "failed":
            details = response.status_details or {}
            error = details.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else None
            await service.push_error(f"Response {response_id} failed: {message or details}")
        elif response.status == "incomplete":
            # Not an error (the reply is kept as far as it went), but a cut-off reply
            # sounds broken, so say why.
            reason = (response.status_details or {}).get("reason") or "unknown reason"
            hint = " (raise max_output_tokens)" if reason == "max_output_tokens" else ""
            logger.warning(f"{service}: response {response_id} ended early: {reason}{hint}")
        for item in response.output or []:
            await service._call_event_handler("on_conversation_item_updated", item.id, item)
        if service._calls.on_response_done(response_id):
            await service._responses.request()

    # -- errors --------------------------------------------------------------------

    async def _on_error(self, event: ev.ErrorEvent) -> None:
        await self._service._on_server_error(event.error)
