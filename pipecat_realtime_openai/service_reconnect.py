"""Keeping the service connected: reconnect, keepalive, session rollover and restore.

:class:`ConnectionSupervisor` runs the service's connections one after the other. A
connection that drops (close, transport error, missed keepalive pongs) is followed by
a new one after a backoff delay; one that must be recycled (``session_expired``, or
the planned rollover before the server's 60 minute limit) is followed at once. Errors
that retrying cannot fix (bad key, no quota, HTTP 401/403) stop it with one fatal
error. Each new connection resumes the conversation of the lost one (see
:meth:`ConnectionSupervisor.resume`): the current session configuration, the
conversation items, what was made meanwhile, the held user audio, and the answer the
user was still owed.

The decisions are pure and live in :mod:`~pipecat_realtime_openai.core.reconnect`,
:mod:`~pipecat_realtime_openai.core.rollover` and :mod:`~pipecat_realtime_openai.core.restore`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger
from pipecat.utils.errors import ErrorCategory

from pipecat_realtime_openai.connection import ConnectionRefusedByServer, RealtimeConnection
from pipecat_realtime_openai.core.errors import classify_error, classify_http_status
from pipecat_realtime_openai.core.function_calls import FunctionCallTracker
from pipecat_realtime_openai.core.reconnect import (
    ConnectionEnd,
    DisconnectReason,
    ReconnectInfo,
    ReconnectOptions,
    ReconnectPlanner,
    Retry,
    Stop,
)
from pipecat_realtime_openai.core.restore import answer_owed_after_drop
from pipecat_realtime_openai.core.rollover import Activity, RolloverSchedule

if TYPE_CHECKING:
    from pipecat_realtime_openai.service import OpenAIRealtimeLLMService

_CLOSE_TIMEOUT = 2.0

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class _Outage:
    started_at: float
    reason: str


class ConnectionSupervisor:
    """Opens, watches and replaces the service's Realtime connections.

    Attributes:
        options: The reconnect options in use.
        reconnects: Reconnects completed so far (for diagnostics and benchmarks).
        last_downtime: Downtime of the latest reconnect, in seconds.

    Args:
        service: The service whose connections this supervises.
        options: Reconnect, keepalive and rollover options.
        sleep: Waits between attempts (inject a fake one to test backoff).
        clock: Monotonic seconds (for downtime and connection age).
        rng: Source of backoff jitter.
    """

    def __init__(
        self,
        service: OpenAIRealtimeLLMService,
        options: ReconnectOptions,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._service = service
        self.options = options
        self._sleep = sleep
        self._clock = clock
        self._planner = ReconnectPlanner(options, rng)
        self._schedule = (
            RolloverSchedule(options.max_session_duration, options.rollover_grace)
            if options.max_session_duration is not None
            else None
        )
        self._outage: _Outage | None = None
        self._planned: str | None = None
        self._retiring = False
        self._opened_at = 0.0
        self.reconnects = 0
        self.last_downtime: float | None = None

    @property
    def retiring(self) -> bool:
        """Whether the current connection is being closed for a planned reconnect."""
        return self._retiring

    async def retire(self, conn: RealtimeConnection, reason: str) -> None:
        """Close a connection on purpose; the next one follows at once and restores.

        From here on nothing more goes out on it: requests and items wait for the next
        session (a response asked for now must not start on a connection that is
        going away) and user audio is held.

        Args:
            conn: The connection to close.
            reason: Why, in words (``session rollover``, ``session_expired``).
        """
        service = self._service
        self._retiring = True
        self._planned = reason
        service._session_ready = False
        await service._audio_in.set_ready(False)
        await conn.close()

    # -- the connection loop ------------------------------------------------------------

    async def run(self) -> None:
        """Keep a connection open until the service shuts down or gives up."""
        while True:
            end = await self._one_connection()
            step = self._planner.after(end)
            if isinstance(step, Stop):
                await self._stop(step, end)
                return
            await self._before_retry(step, end)

    async def _before_retry(self, step: Retry, end: ConnectionEnd) -> None:
        if self._outage is None:
            self._outage = _Outage(self._clock(), end.description)
        logger.warning(
            f"{self._service}: {end.description}; reconnecting "
            f"(attempt {step.attempt}, after {step.delay:.2f} s)"
        )
        info = ReconnectInfo(step.attempt, self._outage.reason, delay=step.delay)
        await self._service._call_event_handler("on_reconnecting", info)
        if step.delay > 0:
            await self._sleep(step.delay)

    async def _one_connection(self) -> ConnectionEnd:
        service = self._service
        conn = RealtimeConnection(
            service.url,
            await service._auth_headers(),
            ping_interval=self.options.ping_interval,
            ping_timeout=self.options.ping_timeout,
            # A peer that missed its pong will not answer a close either.
            close_timeout=min(_CLOSE_TIMEOUT, self.options.ping_timeout or _CLOSE_TIMEOUT),
        )
        try:
            await conn.connect()
        except ConnectionRefusedByServer as exc:
            return ConnectionEnd(
                f"the server refused the connection with HTTP {exc.status}",
                DisconnectReason(http_status=exc.status),
                shutting_down=service._closing,
            )
        except Exception as exc:  # unreachable host, TLS, timeout: all worth a retry
            return ConnectionEnd(
                f"could not connect ({type(exc).__name__}: {exc})", shutting_down=service._closing
            )
        self._retiring = False
        service._conn = conn
        self._opened_at = self._clock()
        watcher = None
        if self._schedule is not None:
            watcher = service.create_task(self._watch_rollover(conn), name="rollover")
        try:
            await service._receive(conn)
        finally:
            if watcher is not None:
                await service.cancel_task(watcher)
            if service._conn is conn:
                service._conn = None
        if service._closing:
            return ConnectionEnd("closed by the service", shutting_down=True)
        await self.on_connection_lost()
        planned, self._planned = self._planned, None
        description = planned or f"the connection closed unexpectedly ({conn.describe_close()})"
        return ConnectionEnd(description, fatal_reported=service._fatal_reported)

    async def _stop(self, step: Stop, end: ConnectionEnd) -> None:
        service = self._service
        if step.report == "none":
            return
        # Nothing will take the held audio any more.
        service._audio_in.reset()
        if step.report == "fatal":
            status = end.reason.http_status
            if status is not None:
                rule, code = classify_http_status(status), f"http_{status}"
            else:
                code = end.reason.error_code
                rule = classify_error(code, end.reason.error_type)
            await service._report_error(end.description, rule, code)
            return
        reason = self._outage.reason if self._outage is not None else end.description
        await service._push_fatal_error(
            f"OpenAI Realtime connection lost ({reason}) and "
            f"{self._planner.attempt} reconnect attempts failed (last: {end.description}). "
            "Check the network and https://status.openai.com, or allow more attempts with "
            "ReconnectOptions(max_retries=...).",
            ErrorCategory.CONNECTIVITY,
        )

    # -- rollover -----------------------------------------------------------------------

    async def _watch_rollover(self, conn: RealtimeConnection) -> None:
        schedule = self._schedule
        assert schedule is not None
        while True:
            age = self._clock() - self._opened_at
            wait = schedule.next_check(age, self._activity())
            if wait is None:
                break
            await asyncio.sleep(wait)
        logger.info(
            f"{self._service}: recycling the Realtime connection after {age:.1f} s "
            f"(max_session_duration {schedule.max_session_duration:g} s)"
        )
        await self.retire(conn, "session rollover")

    def _activity(self) -> Activity:
        service = self._service
        return Activity(
            response_running=service._responses.lifecycle.busy,
            user_speaking=service._turns.user_speaking,
            bot_speaking=service._playback.is_playing,
        )

    # -- losing and resuming a connection ------------------------------------------------

    async def reset_connection_state(self, *, push_frames: bool, keep_conversation: bool) -> None:
        """Reset everything tied to one connection.

        Called when a connection ends (before a reconnect, and at shutdown). It resets:
        session readiness and what the server was told about the session; the
        manual-mode pre-roll; the response in progress (its open frames are closed) and
        owed or wanted response requests; assistant audio playback bookkeeping; the
        function calls whose arguments never completed; pending item retrievals (they
        fail).

        Args:
            push_frames: Push the frames that close a response in progress (False
                while the pipeline shuts down).
            keep_conversation: A reconnect follows: keep the held input audio, the
                conversation mirror (restored on the next connection) and the calls
                waiting for results (answered there). False starts afresh: the next
                connection is seeded from the context, and results of old calls reach it
                as messages.
        """
        service = self._service
        service._session_ready = False
        service._session_state.reset()
        service._audio_in.reset(keep_held=keep_conversation)
        closing = service._responses.reset()
        if push_frames:
            await service._responses.push_closing_frames(closing)
        service._playback.reset()
        if keep_conversation:
            service._calls.reset()
        else:
            service._calls = FunctionCallTracker()
        service._conversation.on_connection_reset(keep_conversation=keep_conversation)
        service._turns.on_connection_reset()
        service._turn_audio.reset()
        service._events.reset()
        service._retrievals.fail_all("the Realtime connection closed")

    async def on_connection_lost(self) -> None:
        """Reset the per-connection state, keeping what the next connection restores."""
        service = self._service
        in_flight, interrupted = service._responses.in_flight()
        unanswered_turn = service._responses.server_turn_pending
        await self.reset_connection_state(push_frames=True, keep_conversation=True)
        owed = answer_owed_after_drop(
            response_in_flight=in_flight,
            response_interrupted=interrupted,
            user_turn_unanswered=unanswered_turn,
            open_calls=len(service._calls.outstanding()),
        )
        if owed:
            service._responses.request_when_ready()

    async def resume(self) -> None:
        """The new session is configured: restore, then release what waited.

        Order on the wire: the conversation items (restore), the context seed if the
        conversation has none yet, items made meanwhile, then the owed response and the
        held user audio. With server VAD the response goes first, so speech held
        during the outage interrupts it like a barge-in; in manual turn mode the held
        audio and its commits go first, because the response must hear them.
        """
        service = self._service
        conversation = service._conversation
        restored = await conversation.restore(self.options.max_restored_items)
        await conversation.ensure_seeded()
        if service._manual_turns():
            await service._audio_in.set_ready(True)
            await service._responses.on_session_ready()
        else:
            await service._responses.on_session_ready()
            await service._audio_in.set_ready(True)
        await self._on_resumed(restored)

    async def _on_resumed(self, restored: int) -> None:
        outage, self._outage = self._outage, None
        attempt = self._planner.attempt
        self._planner.on_restored()
        if outage is None:
            return
        downtime = self._clock() - outage.started_at
        self.reconnects += 1
        self.last_downtime = downtime
        logger.info(
            f"{self._service}: reconnected after {downtime:.3f} s ({outage.reason}; "
            f"attempt {attempt}; {restored} items restored)"
        )
        info = ReconnectInfo(attempt, outage.reason, downtime=downtime)
        await self._service._call_event_handler("on_reconnected", info)
