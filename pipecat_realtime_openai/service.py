"""``OpenAIRealtimeLLMService``: the OpenAI Realtime API (GA) as a Pipecat LLM service.

A drop-in replacement for Pipecat's built-in
``pipecat.services.openai.realtime.llm.OpenAIRealtimeLLMService`` (same constructor,
settings, public methods and event handlers). The work is split by job:

* :mod:`~pipecat_realtime_openai.connection`: WebSocket I/O;
* :mod:`~pipecat_realtime_openai.service_session`: connection lifecycle, sending,
  session configuration, error policy (the base class);
* :mod:`~pipecat_realtime_openai.core.session_config`: what each ``session.update`` carries;
* :mod:`~pipecat_realtime_openai.service_events`: server events -> frames;
* :mod:`~pipecat_realtime_openai.service_input`: user audio and video -> client events;
* :mod:`~pipecat_realtime_openai.service_conversation` (decisions in
  :mod:`~pipecat_realtime_openai.service_context`): context, messages, tool results;
* :mod:`~pipecat_realtime_openai.service_responses`: one ``response.create`` per need;
* :mod:`~pipecat_realtime_openai.service_turns`: user turns, barge-in, truncation;
* :mod:`~pipecat_realtime_openai.service_reconnect`: reconnect, rollover, restore;
* this module: frame routing and the public API.
"""

from __future__ import annotations

from typing import Any, cast, get_args

from loguru import logger
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.adapters.llm.services.open_ai_realtime_adapter import OpenAIRealtimeLLMAdapter
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    FunctionCallCancelFrame,
    FunctionCallResultFrame,
    InputAudioRawFrame,
    InputImageRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMMessagesAppendFrame,
    LLMServiceMetadataFrame,
    LLMSetToolsFrame,
    SpeechControlParamsFrame,
    StartFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transcriptions.language import Language
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies
from pipecat.utils.tracing.service_decorators import traced_openai_realtime, traced_stt
from pipecat.utils.types import assert_given

from pipecat_realtime_openai.core.reconnect import ReconnectOptions
from pipecat_realtime_openai.core.session_config import (
    server_answers_turns,
    server_interrupts_replies,
    transcription_language,
    turn_detection_disabled,
)
from pipecat_realtime_openai.protocol.client_events import (
    ConversationItemRetrieveEvent,
)
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.protocol.session import ImageDetail
from pipecat_realtime_openai.service_conversation import ConversationBridge
from pipecat_realtime_openai.service_session import RealtimeSessionBase
from pipecat_realtime_openai.service_turns import TurnHandler
from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings, initial_settings

DEFAULT_BASE_URL = "wss://api.openai.com/v1/realtime"
"""OpenAI's Realtime WebSocket endpoint; the model is added as ``?model=``."""


class OpenAIRealtimeLLMService(RealtimeSessionBase):
    """OpenAI Realtime (GA) speech-to-speech service for Pipecat pipelines.

    Audio, images and context go in; audio, transcripts, text, function calls and
    metrics come out. Server VAD events are proposed as user turn boundaries (the
    service recommends ``ExternalUserTurnStrategies``); with ``turn_detection=False``
    local turn detection drives turns (manual mode).

    Event handlers, besides those of ``LLMService``:

    - ``on_conversation_item_created(service, item_id, item)``
    - ``on_conversation_item_updated(service, item_id, item)`` (``item`` is None when
      only the input transcription of the item completed)
    - ``on_reconnecting(service, info)`` before each reconnect attempt and
      ``on_reconnected(service, info)`` once the conversation is restored; ``info`` is
      a :class:`~pipecat_realtime_openai.core.reconnect.ReconnectInfo` (attempt, reason,
      delay, downtime).

    Example::

        llm = OpenAIRealtimeLLMService(
            api_key=os.environ["OPENAI_API_KEY"],
            settings=OpenAIRealtimeLLMService.Settings(
                system_instruction="You are a helpful assistant.",
                session_properties=events.SessionProperties(
                    audio=events.AudioConfiguration(
                        output=events.AudioOutput(voice="marin")
                    )
                ),
            ),
        )
    """

    Settings = OpenAIRealtimeLLMSettings
    _settings: OpenAIRealtimeLLMSettings

    adapter_class = OpenAIRealtimeLLMAdapter

    def __init__(
        self,
        *,
        api_key: str,
        model: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        session_properties: Any | None = None,
        settings: OpenAIRealtimeLLMSettings | None = None,
        start_audio_paused: bool = False,
        start_video_paused: bool = False,
        video_frame_detail: ImageDetail = "auto",
        user_audio_preroll_secs: float | None = None,
        audio_batch_ms: int = 60,
        audio_flush_after_ms: int = 40,
        max_pending_audio_secs: float = 10.0,
        video_max_fps: float = 1.0,
        user_id: str = "",
        reconnect: ReconnectOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the service.

        Args:
            api_key: OpenAI API key (sent as a Bearer token; never logged).
            model: Deprecated: use ``settings=Settings(model=...)``. The model is fixed
                by the connection URL for the life of a connection.
            base_url: WebSocket endpoint; ``?model=<model>`` is appended.
            session_properties: Deprecated: use ``settings=Settings(session_properties=...)``.
                Pipecat's ``events.SessionProperties`` is accepted too.
            settings: Settings delta applied over the defaults.
            start_audio_paused: Start with user audio input paused.
            start_video_paused: Start with video input paused.
            video_frame_detail: Image detail for video frames: ``auto``, ``low`` or ``high``.
            user_audio_preroll_secs: Manual turn mode: how much recent audio to replay
                after an interruption clears the input buffer. None sizes it from the
                upstream VAD's ``start_secs`` plus 0.3 s (0.5 s without a VAD).
            audio_batch_ms: Keyword-only extra: duration of audio per
                ``input_audio_buffer.append``. Each append costs a socket write, so
                larger batches save CPU; each frame waits at most this long for the
                rest of its batch (at 60 ms, input latency stays below the built-in
                service's: see ``benchmarks/results.md``).
            audio_flush_after_ms: Keyword-only extra: when input audio pauses this long
                (acted on within 1.5x of it), the audio held back by resampling and
                batching is sent.
            max_pending_audio_secs: Keyword-only extra: audio kept while the session is
                not configured yet (oldest dropped beyond this).
            video_max_fps: Keyword-only extra: most video frames sent per second.
            user_id: Keyword-only extra: ``user_id`` of the transcription frames.
            reconnect: Keyword-only extra: reconnect, keepalive and session rollover
                options (defaults: 10 attempts, pings every 5 s, rollover after 55 min).
            **kwargs: Passed to ``LLMService``.
        """
        store, deprecated = initial_settings(model, session_properties, settings)
        for name in deprecated:
            self._warn_init_param_moved_to_settings(name, name)
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            settings=store,
            audio_batch_ms=audio_batch_ms,
            audio_flush_after_ms=audio_flush_after_ms,
            max_pending_audio_secs=max_pending_audio_secs,
            user_audio_preroll_secs=user_audio_preroll_secs,
            video_max_fps=video_max_fps,
            video_frame_detail=video_frame_detail,
            reconnect=reconnect if reconnect is not None else ReconnectOptions(),
            **kwargs,
        )
        self.user_id = user_id
        self._audio_input_paused = start_audio_paused
        self._video_input_paused = start_video_paused
        # A subclass that overrides push_frame sees input audio pass through it.
        self._push_audio_directly = type(self).push_frame is OpenAIRealtimeLLMService.push_frame
        self._conversation = ConversationBridge(self)
        self._turns = TurnHandler(self)
        self._register_event_handler("on_conversation_item_created")
        self._register_event_handler("on_conversation_item_updated")
        self._register_event_handler("on_reconnecting")
        self._register_event_handler("on_reconnected")

    # -- public API ------------------------------------------------------------------

    def can_generate_metrics(self) -> bool:
        """Tell Pipecat this service reports TTFB, processing and usage metrics."""
        return True

    def set_audio_input_paused(self, paused: bool) -> None:
        """Pause or resume sending user audio.

        Args:
            paused: True to stop sending audio, False to resume.
        """
        self._audio_input_paused = paused

    def set_video_input_paused(self, paused: bool) -> None:
        """Pause or resume sending video frames.

        Args:
            paused: True to stop sending video, False to resume.
        """
        self._video_input_paused = paused

    def set_video_frame_detail(self, detail: str) -> None:
        """Set the image detail used for video frames.

        Args:
            detail: ``auto``, ``low`` or ``high``; anything else is ignored with a warning.
        """
        valid = get_args(ImageDetail)
        if detail not in valid:
            logger.warning(f"Invalid video detail '{detail}', must be one of {valid}")
            return
        self._video_in.detail = cast(ImageDetail, detail)

    async def retrieve_conversation_item(self, item_id: str) -> ConversationItem:
        """Fetch an item of the server conversation.

        Args:
            item_id: Id of the item.

        Returns:
            The item as the server holds it.

        Raises:
            RuntimeError: The server has no such item, or the connection closed.
        """
        future, first = self._retrievals.wait_for(item_id, self.get_event_loop())
        if first:
            await self._send(
                ConversationItemRetrieveEvent(
                    item_id=item_id, event_id=self._retrievals.event_id(item_id)
                )
            )
        return await future

    async def reset_conversation(self) -> None:
        """Start a fresh server conversation: reconnect and seed it from the context.

        Unlike an automatic reconnect, the conversation is not restored.

        Must not be called from the receive loop (an event handler), because it
        replaces that loop's connection.
        """
        logger.debug(f"{self}: resetting the conversation")
        await self._disconnect(shutting_down=False)
        await self._connect()

    def service_metadata_frame(self) -> LLMServiceMetadataFrame:
        """Announce a realtime service; recommend external turn strategies with server VAD."""
        emits_turn_frames = not self._manual_turns()
        self._warn_if_realtime_service_emits_no_turn_frames(emits_turn_frames)
        return LLMServiceMetadataFrame(
            service_name=self.name,
            is_realtime_service=True,
            user_turn_strategies=ExternalUserTurnStrategies() if emits_turn_frames else None,
        )

    @property
    def accepts_intermediate_function_call_results(self) -> bool:
        """Intermediate results reach the model as conversation messages."""
        return True

    # -- pipeline lifecycle --------------------------------------------------------------

    async def start(self, frame: StartFrame) -> None:
        """Start the service and open the session in the background.

        Args:
            frame: The start frame.
        """
        await super().start(frame)
        await self._connect()

    async def stop(self, frame: EndFrame) -> None:
        """Send any held-back audio, then close the session.

        Args:
            frame: The end frame.
        """
        await super().stop(frame)
        if self._session_ready:
            await self._audio_in.flush()
        await self._disconnect()

    async def cancel(self, frame: CancelFrame) -> None:
        """Close the session immediately.

        Args:
            frame: The cancel frame.
        """
        await super().cancel(frame)
        await self._disconnect()

    async def cleanup(self) -> None:
        """Release the connection at teardown."""
        await super().cleanup()
        await self._disconnect()

    # -- frames in --------------------------------------------------------------------------

    def _service_tools(self) -> ToolsSchema | list[Any] | None:
        return assert_given(self._settings.session_properties).tools

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Route each incoming frame to its handler, then pass it on.

        Args:
            frame: The frame.
            direction: Its direction.
        """
        if isinstance(frame, InputAudioRawFrame):
            await self._process_input_audio(frame, direction)
            return
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self._conversation.on_context(frame.context, direction)
        elif isinstance(frame, InputImageRawFrame):
            if not self._video_input_paused and self._session_ready:
                await self._video_in.send(frame, self._conversation.send_item)
        elif isinstance(frame, InterruptionFrame):
            await self._turns.on_interruption()
        elif isinstance(frame, UserStartedSpeakingFrame):
            self._turns.on_local_speech(True)
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._turns.on_local_speech(False)
            await self._turns.on_user_stopped_speaking()
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._turns.on_bot_started_speaking()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._turns.on_bot_stopped_speaking()
        elif isinstance(frame, SpeechControlParamsFrame):
            if frame.vad_params is not None:
                self._audio_in.set_vad_start_secs(frame.vad_params.start_secs)
        elif isinstance(frame, LLMMessagesAppendFrame):
            await self._conversation.on_messages_append(frame)
        elif isinstance(frame, LLMSetToolsFrame):
            await self._conversation.on_set_tools(frame)
        await self.push_frame(frame, direction)

    async def _process_input_audio(
        self, frame: InputAudioRawFrame, direction: FrameDirection
    ) -> None:
        # The hot path: 50 frames a second per call. LLMService and AIService do
        # nothing with input audio (a system frame, which the speculation gate passes
        # straight on), so their dispatch layers are skipped; FrameProcessor's own
        # bookkeeping (observers) still runs on the way in and out.
        await FrameProcessor.process_frame(self, frame, direction)
        if not self._audio_input_paused:
            await self._audio_in.push(frame.audio, frame.sample_rate, frame.num_channels)
        if self._push_audio_directly:
            await FrameProcessor.push_frame(self, frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def push_frame(
        self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM
    ) -> None:
        """Push a frame, sending function call outcomes to the server on the way out.

        ``LLMService`` broadcasts results and cancellations; the downstream copy is
        where they are delivered, once each.

        Args:
            frame: The frame.
            direction: Its direction.
        """
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, FunctionCallResultFrame):
                await self._conversation.on_function_call_result(frame)
            elif isinstance(frame, FunctionCallCancelFrame):
                await self._conversation.on_function_call_cancel(frame)
        await super().push_frame(frame, direction)

    # -- responses ---------------------------------------------------------------------

    @traced_openai_realtime(operation="llm_request")
    async def _create_response(self, start_metrics: bool) -> None:
        await self._conversation.ensure_seeded()
        await self._responses.send_create(start_metrics)

    async def _on_session_confirmed(self) -> None:
        """``session.updated``: the configuration applies; restore, release what was held."""
        if self._session_ready or self._supervisor.retiring:
            return
        self._session_ready = True
        await self._supervisor.resume()

    def _forget_refused_item(self, event_id: str) -> None:
        self._conversation.mirror.forget_client_item(event_id)

    def _on_input_format_changed(self) -> None:
        self._conversation.mirror.forget_input_audio()

    def _server_answers_turns(self) -> bool:
        return server_answers_turns(self._effective_session())

    def _server_interrupts_replies(self) -> bool:
        return server_interrupts_replies(self._effective_session())

    # -- helpers for the other parts --------------------------------------------------

    def _manual_turns(self) -> bool:
        return turn_detection_disabled(self._effective_session())

    def _transcription_language(self) -> str | None:
        return transcription_language(self._effective_session())

    @traced_stt
    async def _trace_user_transcription(
        self, transcript: str, is_final: bool, language: Language | None = None
    ) -> None:
        """Give Pipecat's STT tracing a span for each final user transcript."""

    @traced_openai_realtime(operation="llm_response")
    async def _trace_response_done(self, event: Any) -> None:
        """Give Pipecat's realtime tracing a span for each finished response."""

    @property
    def _context(self) -> LLMContext | None:
        # Read by Pipecat's tracing decorators.
        return self._conversation.context
