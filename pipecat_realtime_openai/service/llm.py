"""``OpenAIRealtimeLLMService``: the OpenAI Realtime API (GA) as a Pipecat LLM service.

A drop-in replacement for Pipecat's built-in
``pipecat.services.openai.realtime.llm.OpenAIRealtimeLLMService`` (same constructor,
settings, public methods and event handlers). It is a translator: frames and
settings in become inputs of the core
(:class:`~pipecat_realtime_openai.core.session.RealtimeSession`), which decides
everything; what the core asks for is carried out by
:class:`~pipecat_realtime_openai.service.executor.ActionExecutor`; the connection
loop is :class:`~pipecat_realtime_openai.service.supervisor.ConnectionSupervisor`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Mapping
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
    LLMMessagesUpdateFrame,
    LLMServiceMetadataFrame,
    LLMSetToolsFrame,
    SpeechControlParamsFrame,
    StartFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies
from pipecat.utils.types import assert_given

from pipecat_realtime_openai.core.items import encode_result
from pipecat_realtime_openai.core.reconnect import ReconnectOptions
from pipecat_realtime_openai.core.session import RealtimeSession
from pipecat_realtime_openai.core.session_base import ContextSeed
from pipecat_realtime_openai.protocol.client_events import ClientEvent
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.protocol.session import ImageDetail, SessionProperties
from pipecat_realtime_openai.service.context import (
    PipecatToolMessages,
    context_messages,
    snapshot,
    wanted_session,
)
from pipecat_realtime_openai.service.executor import ActionExecutor
from pipecat_realtime_openai.service.input import PauseFlusher, to_data_uri
from pipecat_realtime_openai.service.supervisor import ConnectionSupervisor
from pipecat_realtime_openai.service.wire import Wire
from pipecat_realtime_openai.settings import (
    OpenAIRealtimeLLMSettings,
    initial_settings,
)

DEFAULT_BASE_URL = "wss://api.openai.com/v1/realtime"
"""OpenAI's Realtime WebSocket endpoint; the model is added as ``?model=``."""


class OpenAIRealtimeLLMService(ActionExecutor):
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
        context_seed: ContextSeed = "items",
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
            context_seed: Keyword-only extra: how the first context reaches the
                server. ``items`` (the default) sends one conversation item per
                message, tool calls and images included, so later changes of the
                context apply item by item; ``packed`` sends the history as one user
                message, as Pipecat's built-in service does, for models that lose
                their audio output after many text items.
            **kwargs: Passed to ``LLMService``.
        """
        store, deprecated = initial_settings(model, session_properties, settings)
        for name in deprecated:
            self._warn_init_param_moved_to_settings(name, name)
        super().__init__(settings=store, **kwargs)
        self.api_key = api_key
        self._base_url = base_url
        self.user_id = user_id
        props = self._settings_session()
        self._core = RealtimeSession(
            wanted_session(self.get_llm_adapter(), props, self._system_instruction()),
            model=str(self._settings.model),
            name=str(self),
            reconnect=reconnect if reconnect is not None else ReconnectOptions(),
            batch_ms=audio_batch_ms,
            max_pending_audio_secs=max_pending_audio_secs,
            preroll_secs=user_audio_preroll_secs,
            video_max_fps=video_max_fps,
            video_detail=video_frame_detail,
            tool_messages=PipecatToolMessages(),
            context_seed=context_seed,
        )
        self._core.audio_input_paused = start_audio_paused
        # The input hot path calls the core's audio input directly.
        self._push_user_audio = self._core.input_audio.push
        self._core.video_input_paused = start_video_paused
        self._wire = Wire(str(self), self._report_send_error)
        self._supervisor = ConnectionSupervisor(
            self._core,
            self._wire,
            url=lambda: self.url,
            headers=self._auth_headers,
            execute=self._execute,
            handle_event=self._on_server_event,
            start_task=self.create_task,
            stop_task=self._stop_task,
            name=str(self),
        )
        self._pause = PauseFlusher(self._flush_input, audio_flush_after_ms)
        self._out_of_band_numbers = itertools.count(1)
        # Tools set by LLMSetToolsFrame before any context frame arrived.
        self._tools_context: LLMContext | None = None
        # A subclass that overrides push_frame sees input audio pass through it.
        self._push_audio_directly = type(self).push_frame is OpenAIRealtimeLLMService.push_frame
        self._register_event_handler("on_conversation_item_created")
        self._register_event_handler("on_conversation_item_updated")
        self._register_event_handler("on_reconnecting")
        self._register_event_handler("on_reconnected")

    # -- public API ------------------------------------------------------------------

    @property
    def core(self) -> RealtimeSession:
        """The session's decisions and state (read its ``phase``, ``reconnects``, ...)."""
        return self._core

    @property
    def supervisor(self) -> ConnectionSupervisor:
        """The connection loop (its ``sleep`` can be replaced to test backoff)."""
        return self._supervisor

    @property
    def url(self) -> str:
        """The WebSocket URL of the next connection (endpoint plus ``model`` query)."""
        separator = "&" if "?" in self._base_url else "?"
        return f"{self._base_url}{separator}model={self._settings.model}"

    @property
    def base_url(self) -> str:
        """Same as :attr:`url` (the name Pipecat's built-in service uses)."""
        return self.url

    def can_generate_metrics(self) -> bool:
        """Tell Pipecat this service reports TTFB, processing and usage metrics."""
        return True

    def set_audio_input_paused(self, paused: bool) -> None:
        """Pause or resume sending user audio.

        Args:
            paused: True to stop sending audio, False to resume.
        """
        self._core.audio_input_paused = paused

    def set_video_input_paused(self, paused: bool) -> None:
        """Pause or resume sending video frames.

        Args:
            paused: True to stop sending video, False to resume.
        """
        self._core.video_input_paused = paused

    def set_video_frame_detail(self, detail: str) -> None:
        """Set the image detail used for video frames.

        Args:
            detail: ``auto``, ``low`` or ``high``; anything else is ignored with a warning.
        """
        valid = get_args(ImageDetail)
        if detail not in valid:
            logger.warning(f"Invalid video detail '{detail}', must be one of {valid}")
            return
        self._core.video_detail = cast(ImageDetail, detail)

    async def send_client_event(self, event: Any) -> None:
        """Send a client event.

        Args:
            event: A client event of this package, a Pipecat ``events.ClientEvent``, or
                a wire dict.
        """
        if isinstance(event, ClientEvent):
            text = event.to_json()
        elif hasattr(event, "model_dump"):
            text = json.dumps(event.model_dump(exclude_none=True))
        elif isinstance(event, Mapping):
            text = json.dumps(dict(event))
        else:
            raise TypeError(f"cannot send {type(event).__name__} as a client event")
        await self._wire.send_text(text)

    async def retrieve_conversation_item(self, item_id: str) -> ConversationItem:
        """Fetch an item of the server conversation.

        Args:
            item_id: Id of the item.

        Returns:
            The item as the server holds it.

        Raises:
            RuntimeError: The server has no such item, or the connection closed.
        """
        future: asyncio.Future[ConversationItem] = asyncio.get_running_loop().create_future()
        self._retrieval_waiters.setdefault(item_id, []).append(future)
        await self._execute(self._core.retrieve(item_id))
        return await future

    async def run_inference(
        self,
        context: LLMContext,
        max_tokens: int | None = None,
        system_instruction: str | None = None,
        response_schema: dict[str, Any] | None = None,
    ) -> str | None:
        """Answer a context once, out of band: the conversation and the bot's turn stay as they are.

        Sent as a ``response.create`` with ``conversation: "none"`` and the context as
        its ``input`` (text out), once no reply runs. Pipecat Flows uses it for the
        summary of ``RESET_WITH_SUMMARY``.

        Args:
            context: What to answer (its messages; not the conversation's).
            max_tokens: The answer's token limit.
            system_instruction: Instructions for this answer only (the session's
                otherwise).
            response_schema: Not supported by the Realtime API; ignored with a warning.

        Returns:
            The answer's text.

        Raises:
            RuntimeError: The server refused it, or the connection closed first.
        """
        if response_schema is not None:
            logger.warning(f"{self}: the Realtime API takes no response schema; it is ignored")
        request_id = f"{next(self._out_of_band_numbers)}"
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._out_of_band_waiters[request_id] = future
        messages = context_messages(context.get_messages())
        await self._execute(
            self._core.out_of_band(
                request_id,
                messages,
                instructions=system_instruction,
                max_output_tokens=max_tokens,
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
        emits_turn_frames = not self._core.manual_turns
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
        await self._flush_input()
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

    async def _connect(self) -> None:
        """Open the session in the background (connect, then receive until closed)."""
        if self._supervisor.task is not None:
            return
        self._core.start()
        self._pause.start(self.create_task)
        self._supervisor.start()

    async def _disconnect(self, *, shutting_down: bool = True) -> None:
        """Close the connection and forget everything tied to it.

        Args:
            shutting_down: The pipeline is ending, so no frames are pushed; False
                (a conversation reset) closes the frames of a response in progress.
        """
        actions = self._core.close(push_frames=not shutting_down)
        await self._supervisor.stop()
        await self._pause.stop(self.cancel_task)
        await self._execute(actions)

    async def _auth_headers(self) -> dict[str, str]:
        """Return the handshake headers that authenticate the connection.

        Override for other providers (Azure takes ``api-key: <key>``), as with
        Pipecat's built-in service.
        """
        return {"Authorization": f"Bearer {self.api_key}"}

    async def _stop_task(self, task: asyncio.Task) -> None:
        await self.cancel_task(task, timeout=1.0)

    async def _report_send_error(self, message: str, exc: Exception) -> None:
        await self.push_error(message, exception=exc)

    # -- settings ------------------------------------------------------------------------

    def _settings_session(self) -> SessionProperties:
        return assert_given(self._settings.session_properties)

    def _system_instruction(self) -> str | None:
        instruction = self._settings.system_instruction
        return instruction if isinstance(instruction, str) and instruction else None

    def _service_tools(self) -> ToolsSchema | list[Any] | None:
        return self._settings_session().tools

    # Pipecat hands this service its own settings type (``Settings``), so the narrower
    # annotation holds at run time; the base classes name theirs.
    async def _update_settings(  # type: ignore[override]
        self, delta: OpenAIRealtimeLLMSettings
    ) -> dict[str, Any]:
        """Apply a settings delta and send a ``session.update`` with only what changed."""
        changed = await super()._update_settings(delta)
        if "model" in changed:
            logger.warning(
                f"{self}: the model is fixed by the connection URL; "
                f"{self._settings.model!r} applies from the next connection "
                "(e.g. after reset_conversation())."
            )
        if changed.keys() & {"session_properties", "system_instruction"}:
            await self._session_changed()
        handled = {
            "model",
            "session_properties",
            "system_instruction",
            "filter_incomplete_user_turns",
            "user_turn_completion_config",
        }
        self._warn_unhandled_updated_settings(changed.keys() - handled)
        return changed

    async def _session_changed(self) -> None:
        """The settings, the tools or the context changed: tell the core what is wanted."""
        props = self._settings_session()
        instruction = self._system_instruction()
        context = self._latest_context or self._tools_context
        if context is None:
            wanted = wanted_session(self.get_llm_adapter(), props, instruction)
        else:
            _, wanted = await snapshot(self.get_llm_adapter(), context, props, instruction)
        await self._execute(self._core.session_wanted(wanted, str(self._settings.model)))

    # -- frames in --------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Route each incoming frame to the core, then pass it on.

        Args:
            frame: The frame.
            direction: Its direction.
        """
        if isinstance(frame, InputAudioRawFrame):
            # The hot path: 50 frames a second per call. LLMService and AIService do
            # nothing with input audio (a system frame, which the speculation gate
            # passes straight on), so their dispatch layers are skipped;
            # FrameProcessor's own bookkeeping (observers) still runs on the way in
            # and out.
            await FrameProcessor.process_frame(self, frame, direction)
            wire = self._wire
            async with wire.audio_lock:
                for text in self._push_user_audio(
                    frame.audio, frame.sample_rate, frame.num_channels
                ):
                    await wire.send_text(text)
            self._pause.on_frame()
            if self._push_audio_directly:
                await FrameProcessor.push_frame(self, frame, direction)
            else:
                await self.push_frame(frame, direction)
            return
        await super().process_frame(frame, direction)
        core = self._core
        if isinstance(frame, LLMContextFrame):
            await self._on_context(frame.context, direction)
        elif isinstance(frame, InputImageRawFrame):
            if core.video_frame_due(time.monotonic()):
                # JPEG encoding takes milliseconds: keep it off the event loop.
                uri = await asyncio.to_thread(to_data_uri, frame.image, frame.size, frame.format)
                await self._execute(core.user_image(uri))
        elif isinstance(frame, InterruptionFrame):
            await self._execute(core.interruption(time.monotonic()))
        elif isinstance(frame, UserStartedSpeakingFrame):
            core.user_started_speaking()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            await self._execute(core.user_stopped_speaking())
        elif isinstance(frame, BotStartedSpeakingFrame):
            core.bot_started_speaking(time.monotonic())
        elif isinstance(frame, BotStoppedSpeakingFrame):
            core.bot_stopped_speaking(time.monotonic())
        elif isinstance(frame, SpeechControlParamsFrame):
            if frame.vad_params is not None:
                core.set_vad_start_secs(frame.vad_params.start_secs)
        elif isinstance(frame, LLMMessagesAppendFrame):
            messages = context_messages(frame.messages)
            await self._execute(core.messages_appended(messages, bool(frame.run_llm)))
        elif isinstance(frame, LLMSetToolsFrame):
            await self._on_set_tools(frame)
        elif isinstance(frame, LLMMessagesUpdateFrame):
            await self._on_messages_update(frame, direction)
        await self.push_frame(frame, direction)

    async def _flush_input(self) -> None:
        await self._wire.send_input_audio(self._core.input_paused)

    async def _on_messages_update(
        self, frame: LLMMessagesUpdateFrame, direction: FrameDirection
    ) -> None:
        # Without a user aggregator upstream the service keeps the context itself: the
        # messages replace it, and the server conversation follows.
        context = self._latest_context
        if context is None:
            context = LLMContext(messages=list(frame.messages))
        else:
            context.set_messages(list(frame.messages))
        await self._on_context(context, direction, run_llm=bool(frame.run_llm))

    async def _on_context(
        self, context: LLMContext, direction: FrameDirection, *, run_llm: bool | None = None
    ) -> None:
        self._latest_context = context
        props = self._settings_session()
        instruction = self._system_instruction()
        found, wanted = await snapshot(self.get_llm_adapter(), context, props, instruction)
        core = self._core
        await self._execute(core.session_wanted(wanted, str(self._settings.model)))
        downstream = direction == FrameDirection.DOWNSTREAM
        await self._execute(core.context_changed(found, downstream=downstream, run_llm=run_llm))

    async def _on_set_tools(self, frame: LLMSetToolsFrame) -> None:
        # Tools set by frames are the context's tools, as Pipecat's aggregator sets
        # them: before the pipeline's context arrives they wait in a context of the
        # service's own, and the service's configured tools stay its fallback.
        context = self._latest_context
        if context is None:
            if self._tools_context is None:
                self._tools_context = LLMContext()
            context = self._tools_context
        context.set_tools(frame.tools)
        # A realtime session gets no context frame per turn, so handlers sync here:
        # handlers of tools no longer advertised go.
        self._sync_registered_tool_handlers(frame.tools)
        await self._session_changed()

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
                await self._on_function_call_result(frame)
            elif isinstance(frame, FunctionCallCancelFrame):
                await self._execute(
                    self._core.function_cancelled(frame.tool_call_id, run_llm=bool(frame.run_llm))
                )
        await super().push_frame(frame, direction)

    async def _on_function_call_result(self, frame: FunctionCallResultFrame) -> None:
        properties = frame.properties
        final = properties.is_final if properties else True
        # Pipecat's convention (its aggregators and other LLM services): an empty
        # result (None, {}, "") never runs the model, so an "end the call" tool does
        # not make the bot speak again; otherwise the result's run_llm decides.
        if not frame.result:
            run_llm = False
        elif properties is not None and properties.run_llm is not None:
            run_llm = properties.run_llm
        else:
            run_llm = frame.run_llm is not False
        output = encode_result(frame.result)
        await self._execute(
            self._core.function_result(frame.tool_call_id, output, final=final, run_llm=run_llm)
        )
