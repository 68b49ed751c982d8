"""User turns and barge-in: what the service does when the user starts or stops talking.

:class:`TurnHandler` covers both turn modes. With server VAD, the server reports speech
and answers by itself; the service only stops playback bookkeeping and truncates what
the user did not hear. In manual mode (``turn_detection`` off) local turn frames drive
the session: a stop commits the input buffer and asks for one response, an
interruption clears the buffer (replaying the speech onset) and cancels the response.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pipecat_realtime_openai.core.playback import DeleteItem, TruncateItem
from pipecat_realtime_openai.protocol.client_events import (
    ConversationItemDeleteEvent,
    ConversationItemTruncateEvent,
    ResponseCancelEvent,
)

if TYPE_CHECKING:
    from pipecat_realtime_openai.service import OpenAIRealtimeLLMService


class TurnHandler:
    """Applies user turn boundaries and interruptions to the session.

    Args:
        service: The service this handler works for.
    """

    def __init__(self, service: OpenAIRealtimeLLMService) -> None:
        self._service = service
        self._server_speech = False
        self._local_speech = False

    @property
    def user_speaking(self) -> bool:
        """Whether the user is talking now, by server VAD or local turn detection."""
        return self._server_speech or self._local_speech

    def on_server_speech(self, speaking: bool) -> None:
        """Server VAD reported speech starting (True) or stopping (False)."""
        self._server_speech = speaking

    def on_local_speech(self, speaking: bool) -> None:
        """Local turn detection reported the user starting (True) or stopping (False)."""
        self._local_speech = speaking

    def on_connection_reset(self) -> None:
        """A new connection's server VAD has heard nothing yet."""
        self._server_speech = False

    def on_bot_started_speaking(self) -> None:
        """The transport started playing assistant audio."""
        self._service._playback.on_playback_started(time.monotonic())

    def on_bot_stopped_speaking(self) -> None:
        """The transport played out everything it had."""
        self._service._playback.on_playback_stopped(time.monotonic())

    async def on_user_stopped_speaking(self) -> None:
        """Manual mode: commit the user's audio and ask for one response."""
        service = self._service
        if not service._manual_turns():
            return
        # The audio held back by the batcher belongs to this turn: it goes first.
        await service._audio_in.commit()
        service._responses.pending_input = True
        await service.start_ttfb_metrics()
        await service.start_processing_metrics()
        await service._responses.request(start_metrics=False)

    async def on_interruption(self) -> None:
        """An ``InterruptionFrame``: stop the reply; in manual mode also reset the buffer."""
        service = self._service
        if service._manual_turns():
            await service._audio_in.clear_and_replay_preroll()
            if service._responses.lifecycle.busy:
                await service._send(ResponseCancelEvent())
        await self.on_barge_in()
        await service.stop_all_metrics()

    async def on_barge_in(self) -> None:
        """The user talks over the bot: truncate what was not heard, close the TTS pair.

        Runs on server VAD's ``speech_started`` and again on the ``InterruptionFrame``
        that follows; the second run finds nothing left to do.
        """
        service = self._service
        for action in service._playback.plan_interruption(time.monotonic()):
            await self._send_playback_action(action)
        await service._responses.on_barge_in()

    async def _send_playback_action(self, action: TruncateItem | DeleteItem) -> None:
        if isinstance(action, TruncateItem):
            self._service._conversation.mirror.on_truncate_sent(
                action.item_id, action.audio_received_ms
            )
            await self._service._send(
                ConversationItemTruncateEvent(
                    item_id=action.item_id,
                    content_index=action.content_index,
                    audio_end_ms=action.audio_end_ms,
                )
            )
        else:
            await self._service._send(ConversationItemDeleteEvent(item_id=action.item_id))
