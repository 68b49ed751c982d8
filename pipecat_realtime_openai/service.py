"""``OpenAIRealtimeLLMService``: the OpenAI Realtime API (GA) as a Pipecat LLM service.

A drop-in replacement for Pipecat's built-in
``pipecat.services.openai.realtime.llm.OpenAIRealtimeLLMService`` (same constructor,
settings, public methods and event handlers). The work is split by job:

* :mod:`~pipecat_realtime_openai.connection`: WebSocket I/O;
* :mod:`~pipecat_realtime_openai.session_config`: what each ``session.update`` carries;
* :mod:`~pipecat_realtime_openai.service_events`: server events -> frames;
* :mod:`~pipecat_realtime_openai.service_input`: user audio and video -> client events;
* :mod:`~pipecat_realtime_openai.service_context`: context and tool results -> items;
* :mod:`~pipecat_realtime_openai.service_session`: connection lifecycle and sending;
* this module: frames in, responses, tools and the public API.
"""

from __future__ import annotations

import asyncio
import time
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
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    LLMServiceMetadataFrame,
    LLMSetToolsFrame,
    SpeechControlParamsFrame,
    StartFrame,
    TTSStoppedFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators import async_tool_messages
from pipecat.processors.aggregators.llm_context import LLMContext, standard_message_text
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transcriptions.language import Language
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies
from pipecat.utils.tracing.service_decorators import traced_openai_realtime, traced_stt
from pipecat.utils.types import assert_given

from pipecat_realtime_openai.protocol.client_events import (
    ConversationItemCreateEvent,
    ConversationItemDeleteEvent,
    ConversationItemRetrieveEvent,
    ConversationItemTruncateEvent,
    ResponseCancelEvent,
    ResponseCreateEvent,
)
from pipecat_realtime_openai.protocol.items import ConversationItem, ItemContent
from pipecat_realtime_openai.protocol.session import ImageDetail
from pipecat_realtime_openai.service_context import (
    ConversationSync,
    encode_result,
    function_output_item,
    text_message_item,
    to_protocol_item,
)
from pipecat_realtime_openai.service_input import VideoInput
from pipecat_realtime_openai.service_session import RealtimeSessionBase
from pipecat_realtime_openai.session_config import (
    transcription_language,
    turn_detection_disabled,
)
from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings, to_session_properties
from pipecat_realtime_openai.state.playback import DeleteItem, TruncateItem

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
        audio_batch_ms: int = 40,
        audio_flush_after_ms: int = 40,
        max_pending_audio_secs: float = 10.0,
        video_max_fps: float = 1.0,
        user_id: str = "",
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
                ``input_audio_buffer.append``.
            audio_flush_after_ms: Keyword-only extra: when input audio pauses this long,
                the audio held back by resampling and batching is sent.
            max_pending_audio_secs: Keyword-only extra: audio kept while the session is
                not configured yet (oldest dropped beyond this).
            video_max_fps: Keyword-only extra: most video frames sent per second.
            user_id: Keyword-only extra: ``user_id`` of the transcription frames.
            **kwargs: Passed to ``LLMService``.
        """
        store = self.Settings.defaults()
        if model is not None:
            self._warn_init_param_moved_to_settings("model", "model")
            store.model = model
        if session_properties is not None:
            self._warn_init_param_moved_to_settings("session_properties", "session_properties")
            sp = to_session_properties(session_properties)
            store.session_properties = sp
            if model is None and sp.model is not None:
                store.model = sp.model
            if sp.instructions is not None:
                store.system_instruction = sp.instructions
        store.sync_top_level_to_session()
        if settings is not None:
            store.apply_update(settings)
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
            **kwargs,
        )
        self.user_id = user_id
        self._audio_input_paused = start_audio_paused
        self._video_input_paused = start_video_paused
        self._sync = ConversationSync()
        # Appended messages waiting for the conversation to be ready (seeded).
        self._queued_items: list[ConversationItem] = []
        self._register_event_handler("on_conversation_item_created")
        self._register_event_handler("on_conversation_item_updated")

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

        Must not be called from the receive loop (an event handler), because it
        replaces that loop's connection.
        """
        logger.debug(f"{self}: resetting the conversation")
        await self._disconnect()
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
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            if not self._audio_input_paused:
                await self._audio_in.push(frame.audio, frame.sample_rate, frame.num_channels)
        elif isinstance(frame, LLMContextFrame):
            await self._handle_context(frame.context, direction)
        elif isinstance(frame, InputImageRawFrame):
            if not self._video_input_paused:
                await self._send_video_frame(frame)
        elif isinstance(frame, InterruptionFrame):
            await self._handle_interruption()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            await self._handle_user_stopped_speaking()
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._playback.on_playback_started(time.monotonic())
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._playback.on_playback_stopped(time.monotonic())
        elif isinstance(frame, SpeechControlParamsFrame):
            if frame.vad_params is not None:
                self._audio_in.set_vad_start_secs(frame.vad_params.start_secs)
        elif isinstance(frame, LLMMessagesAppendFrame):
            await self._handle_messages_append(frame)
        elif isinstance(frame, LLMSetToolsFrame):
            await self._handle_set_tools(frame)
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
                await self._handle_function_call_result(frame)
            elif isinstance(frame, FunctionCallCancelFrame):
                await self._handle_function_call_cancel(frame)
        await super().push_frame(frame, direction)

    async def _handle_context(self, context: LLMContext, direction: FrameDirection) -> None:
        if self._sync.set_context(context):
            # The first context seeds the conversation when the response is created.
            await self._request_response()
            return
        changes = self._sync.changes()
        for item in changes.items:
            await self._send(ConversationItemCreateEvent(item=item))
            self._pending_input = True
        for result in changes.results:
            await self._deliver_tool_output(result.call_id, result.output, run_llm=False)
        brought_something = bool(changes.items or changes.results)
        if direction == FrameDirection.DOWNSTREAM:
            # The user aggregator asks to run the model (LLMRunFrame, or messages
            # appended with run_llm). A response already running answers it unless
            # this frame brought something new.
            if brought_something or not self._lifecycle.busy:
                await self._request_response()
        elif self._pending_input and not self._calls.outstanding():
            # The assistant aggregator asks for the response to what was delivered
            # since the last one; a tool round is answered once, by the tracker.
            await self._request_response()

    async def _handle_messages_append(self, frame: LLMMessagesAppendFrame) -> None:
        items = []
        for message in frame.messages:
            text = standard_message_text(message)
            role = message.get("role") if isinstance(message, dict) else None
            if text and isinstance(role, str):
                items.append(text_message_item(text, role))
        if not self._conversation_ready():
            self._queued_items.extend(items)
        else:
            for item in items:
                await self._send(ConversationItemCreateEvent(item=item))
        if items:
            self._pending_input = True
        if frame.run_llm:
            await self._request_response()

    async def _handle_set_tools(self, frame: LLMSetToolsFrame) -> None:
        # A realtime session gets no context frame per turn, so handlers are synced here.
        self._sync_registered_tool_handlers(frame.tools)
        context = self._sync.context
        if context is not None:
            context.set_tools(frame.tools)
        else:
            sp = assert_given(self._settings.session_properties)
            sp.tools = to_session_properties({"tools": frame.tools}).tools
        await self._update_session()

    async def _update_settings(self, delta: OpenAIRealtimeLLMSettings) -> dict[str, Any]:
        """Apply a settings delta and send a ``session.update`` with only what changed."""
        changed = await super()._update_settings(delta)
        if "model" in changed:
            logger.warning(
                f"{self}: the model is fixed by the connection URL; "
                f"{self._settings.model!r} applies from the next connection "
                "(e.g. after reset_conversation())."
            )
        if changed.keys() & {"session_properties", "system_instruction"}:
            await self._update_session()
        handled = {
            "model",
            "session_properties",
            "system_instruction",
            "filter_incomplete_user_turns",
            "user_turn_completion_config",
        }
        self._warn_unhandled_updated_settings(changed.keys() - handled)
        return changed

    async def _handle_user_stopped_speaking(self) -> None:
        if not self._manual_turns():
            return
        # The audio held back by the batcher belongs to this turn: it goes first.
        await self._audio_in.commit()
        self._pending_input = True
        await self.start_ttfb_metrics()
        await self.start_processing_metrics()
        await self._request_response(start_metrics=False)

    async def _handle_interruption(self) -> None:
        if self._manual_turns():
            await self._audio_in.clear_and_replay_preroll()
            if self._lifecycle.busy:
                await self._send(ResponseCancelEvent())
        await self._on_user_barge_in()
        await self.stop_all_metrics()

    async def _on_user_barge_in(self) -> None:
        """Stop playback bookkeeping: truncate what was not heard, close the TTS pair."""
        for action in self._playback.plan_interruption(time.monotonic()):
            await self._send_playback_action(action)
        closing = self._lifecycle.on_interrupted()
        if closing.tts_stopped:
            await self.push_frame(TTSStoppedFrame())
        # The user's turn brings a response of its own; one owed now would be a second.
        self._drop_owed = self._lifecycle.owed

    async def _send_playback_action(self, action: TruncateItem | DeleteItem) -> None:
        if isinstance(action, TruncateItem):
            await self._send(
                ConversationItemTruncateEvent(
                    item_id=action.item_id,
                    content_index=action.content_index,
                    audio_end_ms=action.audio_end_ms,
                )
            )
        else:
            await self._send(ConversationItemDeleteEvent(item_id=action.item_id))

    # -- function calls ----------------------------------------------------------------

    async def _handle_function_call_result(self, frame: FunctionCallResultFrame) -> None:
        output = encode_result(frame.result)
        is_final = frame.properties.is_final if frame.properties else True
        if not is_final:
            # The API takes one output per call: progress goes in as a message.
            message = async_tool_messages.build_intermediate_result_message(
                frame.tool_call_id, output
            )
            await self._send_item(text_message_item(str(message.get("content", "")), "system"))
            self._pending_input = True
            return
        run_llm = frame.run_llm is not False and not (
            frame.properties is not None and frame.properties.run_llm is False
        )
        await self._deliver_tool_output(frame.tool_call_id, output, run_llm=run_llm)

    async def _handle_function_call_cancel(self, frame: FunctionCallCancelFrame) -> None:
        self._sync.mark_call_handled(frame.tool_call_id)
        if not self._calls.is_open(frame.tool_call_id):
            return
        await self._send_item(function_output_item(frame.tool_call_id, "CANCELLED"))
        # Cancellation comes with an interruption: the user's turn answers it.
        self._calls.on_cancel(frame.tool_call_id)

    async def _deliver_tool_output(self, call_id: str, output: str, *, run_llm: bool) -> None:
        """Send one function call output; ask for the response after the last of a round.

        Args:
            call_id: The call answered.
            output: The result text.
            run_llm: False when the result asked not to run the model.
        """
        self._sync.mark_call_handled(call_id)
        if self._calls.is_open(call_id):
            await self._send_item(function_output_item(call_id, output))
        else:
            # The server no longer waits for this call (e.g. a new connection): tell
            # the model the outcome as a message instead.
            message = async_tool_messages.build_final_result_message(call_id, output)
            await self._send_item(text_message_item(str(message.get("content", "")), "system"))
        self._pending_input = True
        if self._calls.on_result(call_id) and run_llm:
            await self._request_response()

    # -- responses ---------------------------------------------------------------------

    async def _request_response(self, *, start_metrics: bool = True) -> None:
        """Ask the model to respond, exactly once per need.

        Held until the session is configured, and owed (sent after ``response.done``)
        while another response runs.

        Args:
            start_metrics: Start TTFB/processing metrics (False when already started).
        """
        if not self._session_ready:
            self._response_wanted_when_ready = True
            return
        self._drop_owed = False
        if not self._lifecycle.on_response_requested():
            return
        await self._create_response(start_metrics)

    @traced_openai_realtime(operation="llm_request")
    async def _create_response(self, start_metrics: bool) -> None:
        await self._ensure_conversation_ready()
        self._pending_input = False
        await self.push_frame(LLMFullResponseStartFrame())
        if start_metrics:
            await self.start_ttfb_metrics()
            await self.start_processing_metrics()
        self._response_request_id = self._next_event_id("resp")
        await self._send(ResponseCreateEvent(event_id=self._response_request_id))

    async def _ensure_conversation_ready(self) -> None:
        context = self._sync.context
        if context is not None and not self._sync.seeded:
            self._log_llm_conversation_setup(context)
            params = await self.get_llm_adapter().get_llm_invocation_params(
                context,
                system_instruction=self._settings.system_instruction or None,
                service_tools=self._service_tools(),
            )
            for item in params["messages"]:
                await self._send_item(to_protocol_item(item))
            self._sync.mark_seeded()
            await self._update_session()
        queued, self._queued_items = self._queued_items, []
        for item in queued:
            await self._send_item(item)

    def _conversation_ready(self) -> bool:
        return self._session_ready and (self._sync.context is None or self._sync.seeded)

    async def _on_session_confirmed(self) -> None:
        """``session.updated``: the configuration applies; release what was held."""
        if self._session_ready:
            return
        self._session_ready = True
        # Seed before any audio: server VAD may answer as soon as audio arrives.
        await self._ensure_conversation_ready()
        await self._audio_in.set_ready(True)
        if self._response_wanted_when_ready:
            self._response_wanted_when_ready = False
            await self._request_response()

    def _on_response_started(self) -> None:
        # A response takes in everything the conversation held when it started.
        self._pending_input = False

    def _on_connection_reset(self) -> None:
        self._sync.on_connection_reset()

    async def _send_video_frame(self, frame: InputImageRawFrame) -> None:
        if not self._session_ready or not self._video_in.accept(time.monotonic()):
            return
        # JPEG encoding takes milliseconds: keep it off the event loop.
        uri = await asyncio.to_thread(VideoInput.to_data_uri, frame.image, frame.size, frame.format)
        content = ItemContent(type="input_image", image_url=uri, detail=self._video_in.detail)
        await self._send_item(ConversationItem(type="message", role="user", content=[content]))

    async def _push_response_start(self) -> None:
        await self.push_frame(LLMFullResponseStartFrame())

    async def _close_response_frames(self, tts_stopped: bool, full_response_end: bool) -> None:
        if tts_stopped:
            await self.push_frame(TTSStoppedFrame())
        if full_response_end:
            await self.push_frame(LLMFullResponseEndFrame())

    async def _send_item(self, item: ConversationItem) -> None:
        await self._send(ConversationItemCreateEvent(item=item))

    # -- helpers for the other parts --------------------------------------------------

    def _manual_turns(self) -> bool:
        return turn_detection_disabled(assert_given(self._settings.session_properties))

    def _transcription_language(self) -> str | None:
        return transcription_language(assert_given(self._settings.session_properties))

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
        return self._sync.context
