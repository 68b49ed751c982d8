"""The socket side of sending: the current connection, and one ordered lane for user audio.

:class:`Wire` sends JSON texts on the current connection. A send while nothing is
connected (between connections, after the end) is dropped with a debug line, as the
core expects: what must survive a drop, it keeps and sends again itself. User audio
goes through :meth:`Wire.send_input_audio`, under one lock, so the appends and commits
taken from the core reach the server in order whichever task takes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from loguru import logger
from websockets.exceptions import ConnectionClosed

from pipecat_realtime_openai.connection import RealtimeConnection

ReportSendError = Callable[[str, Exception], Awaitable[None]]


class Wire:
    """Sends client events on the current connection.

    Attributes:
        conn: The current connection, or None between connections.
        audio_lock: Held while user audio is taken from the core and sent.
        audio_senders: Tasks holding or waiting for ``audio_lock``.

    Args:
        name: Prefix of log lines.
        report_error: Called when a send fails for a reason other than a closed
            connection.
    """

    def __init__(self, name: str, report_error: ReportSendError) -> None:
        self._name = name
        self._report_error = report_error
        self.conn: RealtimeConnection | None = None
        self.audio_lock = asyncio.Lock()
        self.audio_senders = 0

    async def send_text(self, text: str) -> None:
        """Send one JSON text (dropped when nothing is connected)."""
        conn = self.conn
        if conn is None or not conn.is_open:
            logger.debug(f"{self._name}: not connected; a client event was dropped")
            return
        try:
            await conn.send(text)
        except ConnectionClosed:
            logger.debug(f"{self._name}: connection closed while sending a client event")
        except Exception as exc:
            await self._report_error(f"Error sending a client event: {exc}", exc)

    async def send_input_audio(self, take: Callable[..., Sequence[str]], *args: Any) -> None:
        """Take the user audio that is ready and send it, in order, under the audio lock.

        While no one holds or waits for the lock, ``take`` runs first and the lock is
        taken only when there is something to send (a free lock with no waiters is
        taken without yielding, so no one can take in between). Most input frames
        only fill a batch: they send nothing and take no lock. Otherwise ``take``
        runs once this sender holds the lock, after everyone queued before it.

        Args:
            take: Returns the texts to send, in order.
            *args: Passed to ``take``.
        """
        texts = None
        if not self.audio_senders:
            texts = take(*args)
            if not texts:
                return
        self.audio_senders += 1
        try:
            async with self.audio_lock:
                for text in take(*args) if texts is None else texts:
                    await self.send_text(text)
        finally:
            self.audio_senders -= 1

    async def close(self) -> None:
        """Close the current connection, if any (its loop notices and moves on)."""
        conn = self.conn
        if conn is not None:
            await conn.close()
