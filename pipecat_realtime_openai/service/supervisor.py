"""The connection loop: dial, receive until the connection ends, wait, dial again.

:class:`ConnectionSupervisor` does the I/O of staying connected and nothing else: it
opens a :class:`~pipecat_realtime_openai.connection.RealtimeConnection`, hands it to
the :class:`~pipecat_realtime_openai.service.wire.Wire`, reads its messages, sleeps
between attempts and runs the rollover timer. Every decision (whether and when to try
again, what a lost connection resets and what the next one restores, when to recycle
a connection) is the core's: the supervisor tells it ``connection_opened`` and
``connection_ended`` and carries out what it answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from loguru import logger

from pipecat_realtime_openai.connection import ConnectionRefusedByServer, RealtimeConnection
from pipecat_realtime_openai.core.actions import Action
from pipecat_realtime_openai.core.reconnect import ConnectionEnd, DisconnectReason, Stop
from pipecat_realtime_openai.core.session import RealtimeSession
from pipecat_realtime_openai.protocol.fast import merge_delta_runs
from pipecat_realtime_openai.protocol.parse import parse_server_event
from pipecat_realtime_openai.service.wire import Wire

_CLOSE_TIMEOUT = 2.0

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
Execute = Callable[[Sequence[Action]], Awaitable[None]]
HandleEvent = Callable[[Any], Awaitable[None]]
StartTask = Callable[..., asyncio.Task]
StopTask = Callable[..., Awaitable[None]]


class ConnectionSupervisor:
    """Opens, reads and replaces the service's Realtime connections.

    Attributes:
        sleep: Waits between attempts (replace it to test backoff without waiting).

    Args:
        core: The session's decisions.
        wire: Where sends go; the supervisor sets its current connection.
        url: Returns the URL of the next connection.
        headers: Returns the handshake headers of the next connection (called for
            each attempt, so a token can be refreshed).
        execute: Carries out the core's actions.
        handle_event: Takes each received event (parsed; back-to-back deltas merged).
        start_task: Starts a managed task (the service's ``create_task``).
        stop_task: Cancels one (the service's ``cancel_task``).
        name: Prefix of log lines.
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        core: RealtimeSession,
        wire: Wire,
        *,
        url: Callable[[], str],
        headers: Callable[[], Awaitable[dict[str, str]]],
        execute: Execute,
        handle_event: HandleEvent,
        start_task: StartTask,
        stop_task: StopTask,
        name: str,
        clock: Clock = time.monotonic,
    ) -> None:
        self._core = core
        self._wire = wire
        self._url = url
        self._headers = headers
        self._execute = execute
        self._handle_event = handle_event
        self._start_task = start_task
        self._stop_task = stop_task
        self._name = name
        self._clock = clock
        self.sleep: Sleep = asyncio.sleep
        self._task: asyncio.Task | None = None

    @property
    def task(self) -> asyncio.Task | None:
        """The connection loop's task while the service runs it (None before and after)."""
        return self._task

    def start(self) -> None:
        """Run the connection loop in the background, unless it already runs."""
        if self._task is None:
            self._task = self._start_task(self.run(), name=f"{self._name}::session")

    async def stop(self) -> None:
        """Stop the connection loop (after the core was closed)."""
        task, self._task = self._task, None
        await self._wire.close()
        if task is not None:
            await self._stop_task(task)

    async def run(self) -> None:
        """Keep a connection open until the core says to stop."""
        while True:
            end = await self._one_connection()
            step, actions = self._core.connection_ended(end, self._clock())
            await self._execute(actions)
            if isinstance(step, Stop):
                return
            if step.delay > 0:
                await self.sleep(step.delay)

    async def _one_connection(self) -> ConnectionEnd:
        options = self._core.options
        conn = RealtimeConnection(
            self._url(),
            await self._headers(),
            ping_interval=options.ping_interval,
            ping_timeout=options.ping_timeout,
            # A peer that missed its pong will not answer a close either.
            close_timeout=min(_CLOSE_TIMEOUT, options.ping_timeout or _CLOSE_TIMEOUT),
        )
        try:
            await conn.connect()
        except ConnectionRefusedByServer as exc:
            return ConnectionEnd(
                f"the server refused the connection with HTTP {exc.status}",
                DisconnectReason(http_status=exc.status),
            )
        except Exception as exc:  # unreachable host, TLS, timeout: all worth a retry
            return ConnectionEnd(f"could not connect ({type(exc).__name__}: {exc})")
        self._wire.conn = conn
        watcher = None
        try:
            await self._execute(self._core.connection_opened(self._clock()))
            if self._core.rollover_enabled:
                watcher = self._start_task(self._watch_rollover(), name="rollover")
            await self.receive(conn)
        finally:
            if watcher is not None:
                await self._stop_task(watcher)
            if self._wire.conn is conn:
                self._wire.conn = None
        return ConnectionEnd(
            f"the connection closed unexpectedly ({conn.describe_close()})",
            DisconnectReason(close_code=conn.close_code),
        )

    async def receive(self, conn: Any) -> None:
        """Read a connection until it ends; never raises for a bad event or a broken socket.

        Args:
            conn: Anything with ``message_batches()`` (a ``RealtimeConnection``).
        """
        handle = self._handle_event
        try:
            async for batch in conn.message_batches():
                if len(batch) == 1:
                    # At real-time pace nearly every batch is one frame: nothing to merge.
                    events: list[object] = [parse_server_event(batch[0])]
                else:
                    # Deltas that arrived back to back go on as one frame: Pipecat's cost
                    # is per frame, and nothing waits for a delta that has not arrived.
                    events = merge_delta_runs([parse_server_event(raw) for raw in batch])
                for event in events:
                    try:
                        await handle(event)
                    except Exception as exc:
                        # One bad event must not end the session. No traceback: its
                        # locals could hold audio payloads.
                        logger.error(
                            f"{self._name}: error handling a server event: "
                            f"{type(exc).__name__}: {exc}"
                        )
        except Exception as exc:
            # A transport failure ends this connection like a close does.
            logger.warning(
                f"{self._name}: the Realtime connection failed: {type(exc).__name__}: {exc}"
            )

    async def _watch_rollover(self) -> None:
        while True:
            wait = self._core.rollover_wait(self._clock())
            if wait is None:
                break
            await asyncio.sleep(wait)
        await self._execute(self._core.retire("session rollover"))
