"""``OpenAIRealtimeLLMService``: the OpenAI Realtime API (GA) as a Pipecat LLM service.

A drop-in replacement for Pipecat's built-in
``pipecat.services.openai.realtime.llm.OpenAIRealtimeLLMService`` (same constructor,
settings, public methods and event handlers). This module is its public face: the
constructor, the public methods and the pipeline lifecycle. The core
(:class:`~pipecat_realtime_openai.core.session.RealtimeSession`) decides everything;
frames and settings reach it through
:class:`~pipecat_realtime_openai.service.translator.FrameTranslator`, its actions are
carried out by :class:`~pipecat_realtime_openai.service.executor.ActionExecutor`, and
the connection loop is
:class:`~pipecat_realtime_openai.service.supervisor.ConnectionSupervisor`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any, cast, get_args

from loguru import logger
from pipecat.adapters.llm.services.open_ai_realtime_adapter import OpenAIRealtimeLLMAdapter
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    LLMServiceMetadataFrame,
    StartFrame,
)
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies

from pipecat_realtime_openai.core.dialect import DIALECTS, OPENAI, Dialect
from pipecat_realtime_openai.core.reconnect import ReconnectOptions
from pipecat_realtime_openai.core.session import RealtimeSession
from pipecat_realtime_openai.core.session_base import ContextSeed
from pipecat_realtime_openai.core.sideband import sideband_query
from pipecat_realtime_openai.core.telephony import telephony_session
from pipecat_realtime_openai.protocol.client_events import ClientEvent
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.protocol.session import ImageDetail, SessionProperties
from pipecat_realtime_openai.protocol.shapes import encoder_for
from pipecat_realtime_openai.service.application import ApplicationContext
from pipecat_realtime_openai.service.context import PipecatToolMessages
from pipecat_realtime_openai.service.endpoint import connection_url
from pipecat_realtime_openai.service.input import PauseFlusher
from pipecat_realtime_openai.service.mcp import McpApprovalHandler
from pipecat_realtime_openai.service.side_answers import SideAnswers
from pipecat_realtime_openai.service.supervisor import ConnectionSupervisor
from pipecat_realtime_openai.service.translator import FrameTranslator
from pipecat_realtime_openai.service.wire import Wire
from pipecat_realtime_openai.settings import (
    OpenAIRealtimeLLMSettings,
    initial_settings,
)

DEFAULT_BASE_URL = "wss://api.openai.com/v1/realtime"
"""OpenAI's Realtime WebSocket endpoint; the model is added as ``?model=``."""


class OpenAIRealtimeLLMService(SideAnswers):
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
    - ``on_rate_limits_updated(service, rate_limits)`` on each ``rate_limits.updated``:
      ``rate_limits`` is the server's list of dicts (``name``, ``limit``, ``remaining``,
      ``reset_seconds``).
    - ``on_turn_timeline(service, timeline)`` once per turn, when it is over:
      ``timeline`` is a :class:`~pipecat_realtime_openai.core.turn_timeline.TurnTimeline`
      (user speech, commit, first reply audio, reply done, interruption, tool calls,
      and the latencies between them). With metrics enabled the same figures go
      downstream as a ``MetricsFrame`` of
      :class:`~pipecat_realtime_openai.service.timeline_metrics.TurnTimelineMetricsData`.
    - ``on_mcp_tools_listed(service, server_label, tools)`` once the server listed an
      MCP server's tools (``tools``: dicts with ``name``, ``input_schema``, ...).
    - ``on_mcp_approval_request(service, request)`` when an MCP call waits for
      approval (to watch; ``mcp_approval_handler`` decides).
    - ``on_call_ended(service, reason)`` (sideband only, see ``call_id``): the server
      ended the call (hang-up, reject, transfer); the service stops reconnecting.

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
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, str] | None = None,
        dialect: Dialect | str = OPENAI,
        mcp_approval_handler: McpApprovalHandler | None = None,
        call_id: str | None = None,
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
            extra_headers: Keyword-only extra: more handshake headers (for servers
                that want their own, e.g. a gateway's).
            extra_query: Keyword-only extra: more query parameters of the URL.
            dialect: Keyword-only extra: how the server speaks the protocol, a
                :class:`~pipecat_realtime_openai.core.dialect.Dialect` or its name
                (``openai``, ``azure``, ``azure-preview``, ``voice-live``, ``xai``).
                The provider services set it; give it for another server that
                speaks like one of them.
            mcp_approval_handler: Keyword-only extra: decides the server's approval
                requests for MCP tool calls (``require_approval``): called with an
                :class:`~pipecat_realtime_openai.core.mcp.McpApprovalRequest`, sync or
                async, returning ``True``/``False`` or ``(approve, reason)``. Without
                one every request is denied (with a warning); one that raises denies.
            call_id: Keyword-only extra: control a call the server carries (SIP or
                WebRTC, ``rtc_...``) over a sideband connection,
                ``base_url?call_id=<id>``. No audio goes through the pipeline either
                way (the call carries it), turns and interruptions are the server's;
                instructions, tools, context and transcripts work as usual. A dropped
                connection reconnects to the same call and restores nothing (the
                server holds the conversation); a normal close by the server ends
                the session (``on_call_ended``). See
                :mod:`~pipecat_realtime_openai.core.sideband`.
            **kwargs: Passed to ``LLMService``.

        Raises:
            ValueError: ``call_id`` is not a call id.
        """
        if call_id is not None:
            sideband_query(call_id)
        store, deprecated = initial_settings(model, session_properties, settings, self.Settings)
        for name in deprecated:
            self._warn_init_param_moved_to_settings(name, name)
        super().__init__(settings=store, mcp_approval_handler=mcp_approval_handler, **kwargs)
        self.api_key = api_key
        self._base_url = base_url
        self._extra_headers = dict(extra_headers or {})
        self._extra_query = dict(extra_query or {})
        self.user_id = user_id
        self._app = ApplicationContext(
            self.get_llm_adapter(), lambda: self._settings, packed=context_seed == "packed"
        )
        self._core = RealtimeSession(
            self._app.initial_session(),
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
            dialect=DIALECTS[dialect] if isinstance(dialect, str) else dialect,
            sideband=call_id is not None,
        )
        self._timelines = self._core.timeline
        self._call_id = call_id
        self._core.audio_input_paused = start_audio_paused
        # The input hot path calls the core's audio input directly (a sideband call's
        # audio is the server's: the core's entry point then takes none).
        self._push_user_audio = (
            self._core.user_audio if call_id is not None else self._core.input_audio.push
        )
        self._core.video_input_paused = start_video_paused
        self._wire = Wire(str(self), self._report_send_error)
        dialect = self._core.dialect
        self._encode = encoder_for(
            dialect.wire_shape,
            response_modalities=dialect.response_modalities,
            on_dropped=self._warn_dropped_fields,
        )
        self._dropped_warned: set[tuple[str, str]] = set()
        self._supervisor = ConnectionSupervisor(
            self._core,
            self._wire,
            url=lambda: self.url,
            headers=self._handshake_headers,
            execute=self._execute,
            handle_event=self._on_server_event,
            start_task=self.create_task,
            stop_task=self._stop_task,
            name=str(self),
        )
        self._pause = PauseFlusher(self._flush_input, audio_flush_after_ms)
        # A subclass that overrides push_frame sees input audio pass through it.
        self._push_audio_directly = type(self).push_frame is FrameTranslator.push_frame
        self._register_event_handler("on_conversation_item_created")
        self._register_event_handler("on_conversation_item_updated")
        self._register_event_handler("on_reconnecting")
        self._register_event_handler("on_reconnected")
        self._register_event_handler("on_rate_limits_updated")
        self._register_event_handler("on_turn_timeline")
        self._register_event_handler("on_mcp_tools_listed")
        self._register_event_handler("on_mcp_approval_request")
        self._register_event_handler("on_call_ended")

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
    def call_id(self) -> str | None:
        """The call this service controls over a sideband connection, if any."""
        return self._call_id

    @property
    def url(self) -> str:
        """The WebSocket URL of the next connection (endpoint plus ``model`` query)."""
        return connection_url(self._base_url, self._url_query())

    def _url_query(self) -> dict[str, str]:
        """The query parameters the endpoint gets (``model``, then the extras).

        A sideband connection names its call instead: the model is the call's.
        """
        if self._call_id is not None:
            return {**sideband_query(self._call_id), **self._extra_query}
        return {"model": str(self._settings.model), **self._extra_query}

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

    async def reset_conversation(self) -> None:
        """Start a fresh server conversation: reconnect and seed it from the context.

        Unlike an automatic reconnect, the conversation is not restored.

        Must not be called from the receive loop (an event handler), because it
        replaces that loop's connection.

        On a sideband connection (``call_id``) it does nothing but warn: the
        conversation is the call's, on the server, and a new socket to the call
        would find it as it was (seeding it again would repeat every item).
        """
        if self._call_id is not None:
            logger.warning(
                f"{self}: a call's conversation lives on the server; it cannot be reset "
                "from a sideband connection"
            )
            return
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
        if self._call_id is not None:
            # The call's audio never passes the pipeline: its rates say nothing of it.
            await self._connect()
            return
        setup = self.processor_setup
        rates = (setup.audio_in_sample_rate, setup.audio_out_sample_rate)
        telephone = await self._rewrite_session(
            lambda session: telephony_session(session, *rates, self._core.dialect)
        )
        if telephone:
            logger.info(
                f"{self}: the pipeline runs at 8 kHz: audio/pcmu both ways, no resampling "
                "(name audio formats in session_properties to choose others)"
            )
        await self._connect()

    async def _rewrite_session(
        self, rewrite: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> bool:
        """Replace the settings' session by ``rewrite`` of its wire dict, before connecting.

        Args:
            rewrite: Returns the new session wire dict, or None to keep the session.

        Returns:
            True when the session was replaced (the core has been told).
        """
        session = self._settings.session_properties
        if not isinstance(session, SessionProperties):
            return False
        # Tools stay as objects: their wire form is the adapter's business.
        data = session.model_copy(update={"tools": None}).to_dict()
        data.pop("tools", None)
        updated = rewrite(data)
        if updated is None:
            return False
        replaced = SessionProperties.model_validate(updated)
        replaced.tools = session.tools
        self._settings.session_properties = replaced
        await self._execute(self._core.session_wanted(self._app.initial_session(), self._app.model))
        return True

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
        await self._mcp_approvals.stop(self.cancel_task)
        await self._execute(actions)

    async def _auth_headers(self) -> dict[str, str]:
        """Return the handshake headers that authenticate the connection.

        Override for other providers (Azure takes ``api-key: <key>``), as with
        Pipecat's built-in service.
        """
        return {"Authorization": f"Bearer {self.api_key}"}

    async def _handshake_headers(self) -> dict[str, str]:
        """Return the headers of the next handshake: authentication, then the extras."""
        return {**await self._auth_headers(), **self._extra_headers}

    def _warn_dropped_fields(self, event_type: str, fields: list[str]) -> None:
        # Once per field: a session update after each settings change would repeat it.
        for name in fields:
            if (event_type, name) not in self._dropped_warned:
                self._dropped_warned.add((event_type, name))
                logger.warning(
                    f"{self}: {self._core.dialect.provider} has no '{name}' in "
                    f"{event_type}; it is left out"
                )

    async def _stop_task(self, task: asyncio.Task) -> None:
        await self.cancel_task(task, timeout=1.0)

    async def _report_send_error(self, message: str, exc: Exception) -> None:
        await self.push_error(message, exception=exc)
