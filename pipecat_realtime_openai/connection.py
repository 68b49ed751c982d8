"""WebSocket I/O for one Realtime session: connect, keepalive, send, receive, close.

This module knows nothing about events or Pipecat: it moves text frames. Decisions
(what to send, what a received frame means) live elsewhere so they can be tested
without a socket, and so a reconnect can build a fresh :class:`RealtimeConnection`
without touching them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

from loguru import logger
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

# Server frames are small (audio deltas are a few kB) but a session.updated carrying
# many tools, or a retrieved item with audio, can exceed websockets' 1 MiB default.
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

DEFAULT_MAX_BATCH = 32
"""Most frames :meth:`RealtimeConnection.message_batches` puts in one batch."""


class ConnectionRefusedByServer(Exception):
    """The WebSocket handshake was answered with an HTTP error status.

    Attributes:
        status: The HTTP status code (401 for a bad key, 403 for no access, ...).
    """

    def __init__(self, status: int) -> None:
        super().__init__(f"the server refused the WebSocket connection with HTTP {status}")
        self.status = status


class ConnectionNotOpen(Exception):
    """A send was attempted while no connection is open."""


class RealtimeConnection:
    """One WebSocket connection to a Realtime endpoint.

    Keepalive pings are sent by websockets itself; a pong that does not arrive within
    ``ping_timeout`` closes the connection, which ends :meth:`messages`.

    Args:
        url: Full ``wss://`` URL including the ``?model=`` query.
        headers: Handshake headers (e.g. ``Authorization: Bearer ...``). Never logged.
        ping_interval: Seconds between keepalive pings; None disables them.
        ping_timeout: Seconds to wait for a pong before closing; None waits forever.
        open_timeout: Seconds allowed for the TCP + TLS + HTTP upgrade handshake.
        close_timeout: Seconds allowed for the closing handshake; a peer that does not
            answer (e.g. after a keepalive timeout) is cut off after this.
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        open_timeout: float | None = 10.0,
        close_timeout: float | None = 2.0,
    ) -> None:
        self._url = url
        self._headers = dict(headers)
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._open_timeout = open_timeout
        self._close_timeout = close_timeout
        self._ws: ClientConnection | None = None

    @property
    def url(self) -> str:
        """The URL this connection targets (contains no credentials)."""
        return self._url

    @property
    def is_open(self) -> bool:
        """Whether the socket is connected and not closing."""
        return self._ws is not None and self._ws.close_code is None

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code once the connection closed, else None."""
        return self._ws.close_code if self._ws is not None else None

    @property
    def close_reason(self) -> str | None:
        """The WebSocket close reason once the connection closed, else None."""
        return self._ws.close_reason if self._ws is not None else None

    def describe_close(self) -> str:
        """Say how the connection ended, for logs and reconnect event handlers."""
        text = f"code {self.close_code}, reason {self.close_reason!r}"
        protocol = self._ws.protocol if self._ws is not None else None
        sent = protocol.close_sent if protocol is not None else None
        if (
            protocol is not None
            and sent is not None
            and protocol.close_rcvd is None
            and (sent.code != 1000)
        ):
            # We gave up on the peer (e.g. no pong to a keepalive ping).
            text += f"; closed by the client: {sent.code} {sent.reason}"
        return text

    async def connect(self) -> None:
        """Open the connection.

        Raises:
            ConnectionRefusedByServer: The handshake got an HTTP error status.
            OSError: The host could not be reached.
            TimeoutError: The handshake took longer than ``open_timeout``.
        """
        try:
            self._ws = await connect(
                self._url,
                additional_headers=self._headers,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                open_timeout=self._open_timeout,
                close_timeout=self._close_timeout,
                max_size=_MAX_MESSAGE_BYTES,
                # Realtime events are small JSON texts sent one by one: compression
                # costs CPU on every audio chunk and gains little on base64.
                compression=None,
            )
        except InvalidStatus as exc:
            raise ConnectionRefusedByServer(exc.response.status_code) from exc
        logger.debug(f"Realtime WebSocket connected to {self._url}")

    async def send(self, text: str) -> None:
        """Send one text frame.

        Args:
            text: The JSON text of a client event.

        Raises:
            ConnectionNotOpen: No connection is open.
            websockets.exceptions.ConnectionClosed: The connection closed meanwhile.
        """
        if self._ws is None:
            raise ConnectionNotOpen("the Realtime connection is not open")
        await self._ws.send(text)

    async def message_batches(
        self, max_batch: int = DEFAULT_MAX_BATCH
    ) -> AsyncIterator[list[str | bytes]]:
        """Yield received frames in batches until the connection closes.

        Each batch is the next frame (waited for) plus the frames that had already been
        received by then, up to ``max_batch``: a batch never waits for a frame that has
        not arrived, so batching adds no latency. When the server streams faster than
        real time the batches let the caller merge back-to-back audio deltas; at real
        time each batch usually holds one frame.

        Ends quietly when the connection closes, cleanly or not; the caller reads
        :attr:`close_code` / :attr:`close_reason` to decide what happened.

        Args:
            max_batch: Most frames per batch.

        Yields:
            Lists of frames as the server sent them, in order.
        """
        ws = self._ws
        if ws is None:
            return
        waiting = received_frames(ws)
        try:
            while True:
                batch = [await ws.recv()]
                while waiting is not None and len(batch) < max_batch and message_complete(waiting):
                    try:
                        batch.append(await ws.recv())
                    except ConnectionClosed:
                        # Raised again by the next recv(), after this batch.
                        break
                yield batch
        except ConnectionClosed:
            logger.debug(
                f"Realtime WebSocket closed: code={self.close_code} reason={self.close_reason!r}"
            )

    @property
    def unread_frames(self) -> int | None:
        """Frames received and not read yet, or None when websockets does not show them."""
        queue = received_frames(self._ws) if self._ws is not None else None
        return len(queue) if queue is not None else None

    async def close(self) -> None:
        """Close the connection; safe to call more than once."""
        ws = self._ws
        if ws is None:
            return
        try:
            await ws.close()
        except Exception as exc:  # A broken socket must not stop the shutdown.
            logger.debug(f"Ignoring error while closing the Realtime WebSocket: {exc}")


def received_frames(ws: ClientConnection) -> deque[Any] | None:
    """The frames websockets received that nobody read yet, if they can be seen.

    Args:
        ws: The websockets client connection.

    Returns:
        websockets' own receive queue (not a copy), or None when its internals moved.
    """
    queue = getattr(getattr(getattr(ws, "recv_messages", None), "frames", None), "queue", None)
    return queue if isinstance(queue, deque) else None


def message_complete(frames: deque[Any]) -> bool:
    """Whether a whole message is queued, so ``recv()`` returns it without waiting.

    Args:
        frames: Received frames (websockets' ``Frame``: a ``fin`` flag ends a message).
    """
    for frame in frames:
        if getattr(frame, "fin", False):
            return True
    return False
