"""The connection side of the service: connecting, receiving, sending, configuring.

:class:`RealtimeSessionBase` owns one Realtime connection at a time, the receive loop
(which never dies on a bad frame), the ``session.update`` sent on ``session.created``
and after settings changes, and the error policy. Reconnecting, and resetting the
per-connection state in between, is the job of its
:class:`~pipecat_realtime_openai.service_reconnect.ConnectionSupervisor`.
:class:`~pipecat_realtime_openai.service.OpenAIRealtimeLLMService` builds the frame
handling on top of it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Mapping
from typing import Any

from loguru import logger
from pipecat.adapters.llm.services.open_ai_realtime_adapter import OpenAIRealtimeLLMAdapter
from pipecat.frames.frames import ErrorFrame
from pipecat.services.llm_service import LLMService
from pipecat.utils.errors import ErrorCategory
from pipecat.utils.tracing.service_decorators import traced_openai_realtime
from pipecat.utils.types import assert_given
from websockets.exceptions import ConnectionClosed

from pipecat_realtime_openai.audio.pipeline import OutputAudioDecoder
from pipecat_realtime_openai.connection import RealtimeConnection
from pipecat_realtime_openai.core.errors import ErrorAction, ErrorRule, classify_error
from pipecat_realtime_openai.core.function_calls import FunctionCallTracker
from pipecat_realtime_openai.core.playback import PlaybackTracker
from pipecat_realtime_openai.core.reconnect import ReconnectOptions
from pipecat_realtime_openai.core.session_config import (
    SessionConfigState,
    input_format,
    output_format,
    response_modalities,
    session_wire_dict,
    turn_detection_disabled,
)
from pipecat_realtime_openai.core.turn_audio import InputAudioTimeline, TurnAudio
from pipecat_realtime_openai.protocol.base import WIRE_CONTEXT
from pipecat_realtime_openai.protocol.client_events import ClientEvent, SessionUpdateEvent
from pipecat_realtime_openai.protocol.fast import merge_delta_runs
from pipecat_realtime_openai.protocol.parse import parse_server_event
from pipecat_realtime_openai.protocol.responses import RealtimeError
from pipecat_realtime_openai.protocol.session import ImageDetail, SessionProperties
from pipecat_realtime_openai.service_context import ItemRetrievals
from pipecat_realtime_openai.service_events import ServerEventHandler
from pipecat_realtime_openai.service_input import InputAudioPath, VideoInput
from pipecat_realtime_openai.service_reconnect import ConnectionSupervisor
from pipecat_realtime_openai.service_responses import ResponseCoordinator
from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings

# Longest spoken turn whose audio can be restored (audio kept per connection).
_TURN_AUDIO_KEEP_MS = 60_000


class RealtimeSessionBase(LLMService[OpenAIRealtimeLLMAdapter]):
    """Connection, sending, session configuration and error policy of the service.

    Args:
        api_key: API key sent as a Bearer token.
        base_url: WebSocket endpoint without the model query.
        settings: Complete store-mode settings.
        audio_batch_ms: Duration of each audio append.
        audio_flush_after_ms: Input pause after which held-back audio is sent.
        max_pending_audio_secs: Audio kept until the session is configured.
        user_audio_preroll_secs: Manual-mode pre-roll, or None for automatic.
        video_max_fps: Most video frames sent per second.
        video_frame_detail: Image detail of video frames.
        reconnect: Reconnect, keepalive and rollover options.
        **kwargs: Passed to ``LLMService``.
    """

    _settings: OpenAIRealtimeLLMSettings

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        settings: OpenAIRealtimeLLMSettings,
        audio_batch_ms: int,
        audio_flush_after_ms: int,
        max_pending_audio_secs: float,
        user_audio_preroll_secs: float | None,
        video_max_fps: float,
        video_frame_detail: ImageDetail,
        reconnect: ReconnectOptions,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings=settings, **kwargs)
        self.api_key = api_key
        self._base_url = base_url
        sp = assert_given(self._settings.session_properties)
        self._conn: RealtimeConnection | None = None
        self._session_task: asyncio.Task | None = None
        self._closing = False
        self._fatal_reported = False
        self._supervisor = ConnectionSupervisor(self, reconnect)  # type: ignore[arg-type]
        self._event_ids = itertools.count(1)
        self._events = ServerEventHandler(self)
        # Keeps spoken turns' audio so turns without a transcript survive a reconnect.
        self._turn_audio = TurnAudio(InputAudioTimeline(input_format(sp), _TURN_AUDIO_KEEP_MS))
        self._audio_in = InputAudioPath(
            self._send_text,
            input_format(sp),
            batch_ms=audio_batch_ms,
            flush_after_ms=audio_flush_after_ms,
            max_pending_secs=max_pending_audio_secs,
            preroll_secs=user_audio_preroll_secs,
            turn_audio=self._turn_audio,
        )
        self._audio_in.set_manual_turns(turn_detection_disabled(sp))
        self._video_in = VideoInput(video_max_fps, video_frame_detail)
        out = output_format(sp)
        self._output_decoder = OutputAudioDecoder(out)
        self._playback = PlaybackTracker(bytes_per_ms=out.bytes_per_ms)
        self._session_state = SessionConfigState()
        self._responses = ResponseCoordinator(self)  # type: ignore[arg-type]
        self._calls = FunctionCallTracker()
        self._retrievals = ItemRetrievals()
        self._session_ready = False
        # Event id of the update that must be confirmed before the session is ready.
        self._configuring_event_id: str | None = None

    @property
    def url(self) -> str:
        """The WebSocket URL of the next connection (endpoint plus ``model`` query)."""
        separator = "&" if "?" in self._base_url else "?"
        return f"{self._base_url}{separator}model={self._settings.model}"

    @property
    def base_url(self) -> str:
        """Same as :attr:`url` (the name Pipecat's built-in service uses)."""
        return self.url

    # -- connection lifecycle ------------------------------------------------------

    async def _connect(self) -> None:
        """Open the session in the background (connect, then receive until closed)."""
        if self._session_task is not None:
            return
        self._closing = False
        self._audio_in.start(self.create_task)
        self._session_task = self.create_task(self._run_session(), name=f"{self}::session")

    async def _disconnect(self, *, shutting_down: bool = True) -> None:
        """Close the connection and forget everything tied to it.

        Args:
            shutting_down: The pipeline is ending, so no frames are pushed; False
                (a conversation reset) closes the frames of a response in progress.
        """
        self._closing = True
        task, self._session_task = self._session_task, None
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
        if task is not None:
            await self.cancel_task(task, timeout=1.0)
        await self._audio_in.stop(self.cancel_task)
        await self._supervisor.reset_connection_state(
            push_frames=not shutting_down, keep_conversation=False
        )

    async def _auth_headers(self) -> dict[str, str]:
        """Return the handshake headers that authenticate the connection.

        Override for other providers (Azure takes ``api-key: <key>``), as with
        Pipecat's built-in service.
        """
        return {"Authorization": f"Bearer {self.api_key}"}

    async def _run_session(self) -> None:
        await self._supervisor.run()

    async def _receive(self, conn: RealtimeConnection) -> None:
        try:
            await self._receive_events(conn)
        except Exception as exc:
            # A transport failure ends this connection like a close does.
            logger.warning(f"{self}: the Realtime connection failed: {type(exc).__name__}: {exc}")

    async def _receive_events(self, conn: RealtimeConnection) -> None:
        handle = self._events.handle
        async for batch in conn.message_batches():
            # Deltas that arrived back to back go on as one frame: Pipecat's cost is
            # per frame, and nothing waits for a delta that has not arrived.
            for event in merge_delta_runs([parse_server_event(raw) for raw in batch]):
                try:
                    await handle(event)
                except Exception as exc:
                    # One bad event must not end the session. No traceback: its locals
                    # could hold audio payloads.
                    logger.error(
                        f"{self}: error handling a server event: {type(exc).__name__}: {exc}"
                    )

    # -- sending -----------------------------------------------------------------------

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
        await self._send_text(text)

    async def _send(self, event: ClientEvent) -> None:
        logger.trace(f"{self}: sending {event.type}")
        await self._send_text(event.to_json())

    async def _send_text(self, text: str) -> None:
        conn = self._conn
        if conn is None or not conn.is_open:
            logger.debug(f"{self}: not connected; a client event was dropped")
            return
        try:
            await conn.send(text)
        except ConnectionClosed:
            logger.debug(f"{self}: connection closed while sending a client event")
        except Exception as exc:
            await self.push_error(f"Error sending a client event: {exc}", exception=exc)

    def _next_event_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._event_ids)}"

    # -- session configuration -----------------------------------------------------------

    @traced_openai_realtime(operation="llm_setup")
    async def _configure_session(self) -> None:
        """Send the whole configuration (on ``session.created``)."""
        self._session_state.reset()
        await self._update_session()

    async def _update_session(self) -> None:
        """Send a ``session.update`` with what changed since the server was last told.

        Before the first configuration of a connection this does nothing: the update
        sent on ``session.created`` carries everything.
        """
        if self._conn is None:
            return
        first = self._session_state.sent is None
        if first and not self._conn.is_open:
            return
        desired = await self._desired_session()
        plan = self._session_state.plan(desired, self._settings.model)
        for warning in plan.warnings:
            logger.warning(f"{self}: {warning}")
        if plan.session is None:
            return
        event_id = self._next_event_id("session")
        if not self._session_ready:
            self._configuring_event_id = event_id
        session = SessionProperties.model_validate(plan.session, context=WIRE_CONTEXT)
        await self._send(SessionUpdateEvent(session=session, event_id=event_id))
        self._session_state.on_sent(plan.session)
        await self._apply_formats()

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

    async def _desired_session(self) -> dict[str, Any]:
        sp = assert_given(self._settings.session_properties)
        wire = session_wire_dict(sp)
        if sp.output_modalities is not None:
            # Responses carry one modality; "audio" includes its transcript.
            wire["output_modalities"] = response_modalities(sp)
        adapter = self.get_llm_adapter()
        context = self._context
        instructions = self._settings.system_instruction or None
        if context is not None:
            params = await adapter.get_llm_invocation_params(
                context, system_instruction=instructions, service_tools=sp.tools
            )
            instructions = params["system_instruction"]
            tools: Any = params["tools"]
        else:
            tools = adapter.from_standard_tools(sp.tools)
        if instructions:
            wire["instructions"] = instructions
        wire["tools"] = list(tools) if isinstance(tools, list) else []
        return wire

    def _effective_session(self) -> SessionProperties:
        """The session configuration the server works with (see ``SessionConfigState``)."""
        return self._session_state.effective(assert_given(self._settings.session_properties))

    async def _apply_formats(self) -> None:
        sp = self._effective_session()
        if input_format(sp) != self._audio_in.target:
            self._on_input_format_changed()
        await self._audio_in.retarget(input_format(sp))
        self._audio_in.set_manual_turns(turn_detection_disabled(sp))
        out = output_format(sp)
        if out != self._output_decoder.format:
            self._output_decoder = OutputAudioDecoder(out)
            self._playback = PlaybackTracker(bytes_per_ms=out.bytes_per_ms)

    # -- errors ------------------------------------------------------------------------------

    async def _on_server_error(self, error: RealtimeError) -> None:
        """Apply the error policy to a server ``error`` event."""
        message = error.message or "unknown error"
        if error.code == "item_retrieve_invalid_item_id" and self._retrievals.fail_by_event(
            error.event_id, message
        ):
            return
        if error.event_id:
            # A refused item is never sent again when restoring the conversation.
            self._forget_refused_item(error.event_id)
        if error.code == "input_audio_buffer_commit_empty":
            self._turn_audio.on_commit_refused()
        already_active = error.code == "conversation_already_has_active_response"
        refused = await self._responses.on_request_error(error.event_id, already_active)
        if refused and already_active:
            # Handled: the request is sent again when the running response ends.
            logger.warning(f"{self}: {message} (the response is requested again after it)")
            return
        rule = classify_error(error.code, error.type)
        await self._report_error(f"{error.code or error.type}: {message}", rule, error.code)
        if (
            not self._session_ready
            and error.event_id is not None
            and error.event_id == self._configuring_event_id
            and rule.action in (ErrorAction.IGNORE, ErrorAction.RECOVER)
        ):
            # The server kept its previous configuration and sends no session.updated;
            # carry on with it rather than hold audio and responses forever.
            await self._on_session_confirmed()

    async def _report_error(self, description: str, rule: ErrorRule, code: str | None) -> None:
        text = f"OpenAI Realtime error {description} ({rule.hint})"
        if rule.action is ErrorAction.IGNORE:
            logger.debug(f"{self}: {text}")
        elif rule.action is ErrorAction.RECOVER:
            await self.push_error(text)
        elif rule.action is ErrorAction.RECONNECT:
            logger.warning(f"{self}: {text}")
            if self._conn is not None:
                await self._supervisor.retire(self._conn, code or "reconnect asked by the server")
        else:
            await self._push_fatal_error(text, ErrorCategory(rule.category))
            # Retrying cannot help: end the connection, and with it the session.
            if self._conn is not None:
                await self._conn.close()

    async def _push_fatal_error(self, text: str, category: ErrorCategory) -> None:
        """Push the one fatal ``ErrorFrame`` of the session (later ones are dropped)."""
        if self._fatal_reported:
            return
        self._fatal_reported = True
        frame = ErrorFrame(error=text, category=category)
        # Set after construction: the constructor warns about the deprecated flag.
        frame.fatal = True
        await self.push_error_frame(frame, force_treat_as_permanent=True)

    async def _create_response(self, start_metrics: bool) -> None:
        """Seed if needed and send ``response.create`` (implemented by the service)."""

    async def _on_session_confirmed(self) -> None:
        """Release what waited for the configuration (implemented by the service)."""

    def _on_input_format_changed(self) -> None:
        """Audio kept in the old input format can no longer be restored."""

    def _forget_refused_item(self, event_id: str) -> None:
        """An error answered a client event: never restore the item it created, if any."""

    @property
    def _context(self) -> Any:
        return None
