"""When the model is asked to respond, and the frames around each response.

:class:`ResponseCoordinator` makes sure every need for a response produces exactly one
``response.create``: requests wait for the session to be configured, are owed while
another response runs, and are dropped when the user barges in (the user's turn brings
its own response). It also pushes the frames that open and close each response, using
:class:`~pipecat_realtime_openai.core.lifecycle.ResponseLifecycle` to keep them
balanced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipecat.frames.frames import (
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    TTSStoppedFrame,
)

from pipecat_realtime_openai.core.lifecycle import Closing, ResponseLifecycle
from pipecat_realtime_openai.protocol.client_events import ResponseCreateEvent

if TYPE_CHECKING:
    from pipecat_realtime_openai.service import OpenAIRealtimeLLMService


class ResponseCoordinator:
    """Response requests and the balanced frames of each response.

    Attributes:
        lifecycle: The current response's state (read by the event handler).
        pending_input: Something reached the conversation that no response has taken
            in yet (a tool result, an appended message, a committed turn).
        server_turn_pending: Server VAD committed a user turn that the server is going
            to answer by itself, and its response has not started yet.

    Args:
        service: The service this coordinator works for.
    """

    def __init__(self, service: OpenAIRealtimeLLMService) -> None:
        self._service = service
        self.lifecycle = ResponseLifecycle()
        self.pending_input = False
        self.server_turn_pending = False
        self._wanted_when_ready = False
        self._drop_owed = False
        self._request_event_id: str | None = None

    async def request(self, *, start_metrics: bool = True) -> None:
        """Ask the model to respond, exactly once per need.

        Args:
            start_metrics: Start TTFB/processing metrics (False when already started).
        """
        service = self._service
        if not service._session_ready:
            self._wanted_when_ready = True
            return
        self._drop_owed = False
        if self.lifecycle.on_response_requested():
            await service._create_response(start_metrics)

    async def send_create(self, start_metrics: bool) -> None:
        """Push the response's start frame and send ``response.create``.

        Args:
            start_metrics: Start TTFB/processing metrics now.
        """
        service = self._service
        # The response takes in everything the conversation holds when it starts.
        self.pending_input = False
        await service.push_frame(LLMFullResponseStartFrame())
        if start_metrics:
            await service.start_ttfb_metrics()
            await service.start_processing_metrics()
        self._request_event_id = service._next_event_id("resp")
        await service._send(ResponseCreateEvent(event_id=self._request_event_id))

    async def on_session_ready(self) -> None:
        """Send the request that waited for the session configuration, if any."""
        if self._wanted_when_ready:
            self._wanted_when_ready = False
            await self.request()

    def request_when_ready(self) -> None:
        """Ask for a response as soon as the next session is configured."""
        self._wanted_when_ready = True

    def in_flight(self) -> tuple[bool, bool]:
        """Return whether a response is requested or running, and whether it was interrupted."""
        active = self.lifecycle.active
        if active is not None:
            return True, not self.lifecycle.accepts_audio(active)
        return self.lifecycle.awaiting_creation, False

    async def on_created(self, response_id: str) -> None:
        """``response.created``: open the frames of a server-initiated response."""
        self.pending_input = False
        self.server_turn_pending = False
        if self.lifecycle.on_response_created(response_id):
            await self._service.push_frame(LLMFullResponseStartFrame())

    async def on_done(self, response_id: str) -> None:
        """``response.done``: close the response's frames; send an owed request."""
        await self.close(self.lifecycle.on_response_done(response_id))

    async def on_request_error(self, event_id: str | None, already_active: bool) -> bool:
        """An ``error`` answered a client event: close the frames of a refused request.

        Args:
            event_id: The client event id the error names.
            already_active: The error is ``conversation_already_has_active_response``.

        Returns:
            True when the error refused this coordinator's ``response.create``.
        """
        if event_id is None or event_id != self._request_event_id:
            return False
        await self.close(self.lifecycle.on_request_failed(already_active))
        return True

    async def on_barge_in(self) -> None:
        """The user talks over the bot: stop the TTS pair, forget owed requests."""
        closing = self.lifecycle.on_interrupted()
        if closing.tts_stopped:
            await self._service.push_frame(TTSStoppedFrame())
        # The user's turn brings a response of its own; one owed now would be a second.
        self._drop_owed = self.lifecycle.owed

    async def close(self, closing: Closing) -> None:
        """Push what a finished response needs; send an owed request unless dropped."""
        await self.push_closing_frames(closing)
        if closing.response_create_due:
            if self._drop_owed:
                self._drop_owed = False
            else:
                await self.request()

    async def push_closing_frames(self, closing: Closing) -> None:
        """Push ``TTSStoppedFrame`` / ``LLMFullResponseEndFrame`` as the closing says."""
        if closing.tts_stopped:
            await self._service.push_frame(TTSStoppedFrame())
        if closing.full_response_end:
            await self._service.push_frame(LLMFullResponseEndFrame())

    def reset(self) -> Closing:
        """Forget per-connection state; a request that was owed waits for the next session.

        Returns:
            What was still open; the caller pushes it unless shutting down.
        """
        closing = self.lifecycle.on_disconnected()
        if closing.response_create_due and not self._drop_owed:
            self._wanted_when_ready = True
        self.pending_input = False
        self.server_turn_pending = False
        self._drop_owed = False
        self._request_event_id = None
        return closing
