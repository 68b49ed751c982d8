"""One simulated connection: the thin websockets layer around `RealtimeSessionState`.

Events leave through a single writer task, in the order the state produced them, so a
cancel or barge-in can never overtake the response events it ends. Everything sent and
received is recorded for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, Literal

from loguru import logger
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from pipecat_realtime_openai.testing.dialects import DialectServerState, SimDialect
from pipecat_realtime_openai.testing.faults import SESSION_EXPIRED_MESSAGE, Faults
from pipecat_realtime_openai.testing.server_events import Event, error_event, make_event
from pipecat_realtime_openai.testing.session_state import INVALID_JSON_MESSAGE, RealtimeSessionState

Pace = Literal["fast", "realtime"]
_CLOSE = object()


class _CloseWith:
    """Close the connection with this code and reason once what was queued is sent."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class _Waiters:
    """Lets tests await "the n-th event of type X" without sleeping."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, ready: Any, timeout_s: float) -> Any:
        async with asyncio.timeout(timeout_s):
            while True:
                changed = self._changed
                result = ready()
                if result is not None:
                    return result
                await changed.wait()


class SimulatedConnection:
    """A client connection to the simulator, with everything it exchanged.

    Attributes:
        model: Model named in the connection URL.
        state: The sans-I/O session logic (conversation, buffer, active response).
        client_events: Decoded client events, in arrival order (invalid ones included).
        server_events: Server events sent, in order.
        closed: Set once the connection has ended.
    """

    def __init__(
        self,
        websocket: ServerConnection,
        state: RealtimeSessionState,
        *,
        model: str,
        pace: Pace,
        faults: Faults,
        dialect: SimDialect | None = None,
    ) -> None:
        self.websocket = websocket
        self.dialect = dialect if dialect is not None else SimDialect(DialectServerState(), {})
        self.state = state
        self.model = model
        self.client_events: list[Any] = []
        self.server_events: list[Event] = []
        self.closed = asyncio.Event()
        self._pace = pace
        self._faults = faults
        self._outbox: asyncio.Queue[Any] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._waiters = _Waiters()
        # On-demand fault right after the n-th server event of a type is sent:
        # (event type, count, "drop" or "expire").
        self._fault_after: tuple[str, int, str] | None = None

    # --- introspection ----------------------------------------------------------------

    @property
    def server_event_types(self) -> list[str]:
        """Types of the server events sent, in order."""
        return [event.get("type", "") for event in self.server_events]

    @property
    def client_event_types(self) -> list[str]:
        """Types of the client events received, in order."""
        return [e.get("type", "") if isinstance(e, dict) else "" for e in self.client_events]

    @property
    def items(self) -> list[dict[str, Any]]:
        """The conversation items, in server order."""
        return self.state.store.items

    @property
    def session(self) -> dict[str, Any]:
        """The effective session configuration."""
        return self.state.session

    async def wait_for_client_event(
        self, event_type: str, count: int = 1, timeout_s: float = 5.0
    ) -> dict[str, Any]:
        """Wait until the `count`-th client event of `event_type` has arrived.

        Args:
            event_type: Client event type, e.g. ``"response.create"``.
            count: Which occurrence to wait for (1 = the first).
            timeout_s: Seconds before `TimeoutError` is raised.

        Returns:
            That event, decoded.
        """

        def ready() -> dict[str, Any] | None:
            found = [
                e for e in self.client_events if isinstance(e, dict) and e.get("type") == event_type
            ]
            return found[count - 1] if len(found) >= count else None

        return await self._waiters.wait(ready, timeout_s)

    async def wait_for_server_event(
        self, event_type: str, count: int = 1, timeout_s: float = 5.0
    ) -> dict[str, Any]:
        """Wait until the `count`-th server event of `event_type` has been sent.

        Args:
            event_type: Server event type, e.g. ``"response.done"``.
            count: Which occurrence to wait for (1 = the first).
            timeout_s: Seconds before `TimeoutError` is raised.

        Returns:
            That event.
        """

        def ready() -> dict[str, Any] | None:
            found = [e for e in self.server_events if e.get("type") == event_type]
            return found[count - 1] if len(found) >= count else None

        return await self._waiters.wait(ready, timeout_s)

    # --- on-demand faults ---------------------------------------------------------------

    def send_raw(self, frame: str) -> None:
        """Queue a raw text frame as is (e.g. malformed JSON), after pending events."""
        self._outbox.put_nowait(frame)

    def send_malformed(self) -> None:
        """Queue a frame that is not valid JSON."""
        self.send_raw('{"type": "response.output_audio.delta", "delta": ')

    def send_unknown_event(self, event_type: str = "simulator.unknown_event") -> None:
        """Queue a well-formed event of a type clients do not know."""
        self._outbox.put_nowait(make_event(event_type, note="unknown event type"))

    def send_event(self, event: Event) -> None:
        """Queue any server event dict (e.g. a `rate_limits.updated`)."""
        self._outbox.put_nowait(event)

    def send_events(self, events: list[Event]) -> None:
        """Send GA server events as the state made them, and stream the reply they start."""
        self._emit(events)
        self._ensure_pump()

    def end(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection after what is queued, with a close code (a call ended)."""
        self._outbox.put_nowait(_CloseWith(code, reason))

    def expire_session(self) -> None:
        """Send the real ``session_expired`` error now, then close."""
        self._outbox.put_nowait(
            error_event(
                "session_expired", SESSION_EXPIRED_MESSAGE, error_type="invalid_request_error"
            )
        )
        self._outbox.put_nowait(_CLOSE)

    def drop(self) -> None:
        """Abort the TCP connection at once, without a close frame."""
        self.websocket.transport.abort()

    def drop_after_event(self, event_type: str, count: int = 1) -> None:
        """Abort this connection right after the `count`-th server event of a type is sent.

        Counts from the start of the connection, so a test can cut a response at an
        exact point (say, after its first audio delta) whatever the pace.

        Args:
            event_type: Server event type, e.g. ``"response.output_audio.delta"``.
            count: Which occurrence ends the connection (1 = the first).
        """
        self._fault_after = (event_type, count, "drop")
        if self.server_event_types.count(event_type) >= count:
            self.drop()

    def expire_after_event(self, event_type: str, count: int = 1) -> None:
        """End the session as at the 60 minute limit right after an exact server event.

        The real ``session_expired`` error is sent just after the `count`-th server
        event of `event_type` (before anything else queued), then the connection closes.

        Args:
            event_type: Server event type, e.g. ``"response.output_audio.delta"``.
            count: Which occurrence ends the session (1 = the first).
        """
        self._fault_after = (event_type, count, "expire")

    def freeze(self) -> None:
        """Stop reading from the client, as a peer that died silently.

        Nothing is closed: keepalive pings go unanswered, so only a client that
        times out its pings notices.
        """
        self.websocket.transport.pause_reading()

    # --- I/O ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until it closes."""
        tasks = [asyncio.create_task(self._writer())]
        if self._faults.drop_after_seconds is not None:
            tasks.append(
                asyncio.create_task(self._later(self._faults.drop_after_seconds, self.drop))
            )
        if self._faults.session_max_seconds is not None:
            tasks.append(
                asyncio.create_task(
                    self._later(self._faults.session_max_seconds, self.expire_session)
                )
            )
        try:
            await self._delay()
            for event in self.dialect.opening(self.state.opening_events(), self.state):
                self._outbox.put_nowait(event)
            async for frame in self.websocket:
                await self._on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            self.dialect.on_closed(self.state)
            for task in [*tasks, self._pump]:
                if task is not None:
                    task.cancel()
            for task in [*tasks, self._pump]:
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                        await task
            self.closed.set()
            self._waiters.notify()
            logger.debug(
                f"simulator: connection closed after {len(self.client_events)} client and"
                f" {len(self.server_events)} server events"
            )

    async def _later(self, seconds: float, action: Callable[[], None]) -> None:
        await asyncio.sleep(seconds)
        action()

    async def _delay(self) -> None:
        if self._faults.latency_seconds > 0:
            await asyncio.sleep(self._faults.latency_seconds)

    async def _on_frame(self, frame: str | bytes) -> None:
        await self._delay()
        try:
            data = json.loads(frame)
        except ValueError:
            self.client_events.append({"raw": str(frame)[:200]})
            events = [error_event("invalid_json", INVALID_JSON_MESSAGE)]
        else:
            self.client_events.append(data)
            injected = (
                self._faults.errors_for.get(str(data.get("type")))
                if isinstance(data, dict)
                else None
            )
            ga, refused = self.dialect.client_in(data)
            if refused:
                events = refused
            elif injected is not None:
                events = [
                    error_event(
                        injected.code,
                        injected.message,
                        param=injected.param,
                        client_event_id=data.get("event_id"),
                        error_type=injected.error_type,
                    )
                ]
            else:
                events = self._handle(ga)
                # What the dialect adds (xAI's ping, a resumed conversation) comes first.
                events = self.dialect.after_client(ga, self.state) + events
        self._waiters.notify()
        self._emit(events)
        self._ensure_pump()

    def _handle(self, data: Any) -> list[Event]:
        try:
            return self.state.receive(data)
        except Exception as exc:
            # A simulator bug must surface in the test as a server error, not a hang.
            logger.exception("simulator: failed to handle a client event")
            event_id = data.get("event_id") if isinstance(data, dict) else None
            message = f"The simulator failed to handle this event: {type(exc).__name__}"
            return [
                error_event(
                    "server_error", message, client_event_id=event_id, error_type="server_error"
                )
            ]

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            for rendered in self.dialect.server_out(event):
                self._outbox.put_nowait(rendered)

    def _ensure_pump(self) -> None:
        if self.state.responding and (self._pump is None or self._pump.done()):
            self._pump = asyncio.create_task(self._pump_response())

    async def _pump_response(self) -> None:
        loop = asyncio.get_running_loop()
        # Each response's audio keeps to its own clock, from its first step.
        started: dict[str, float] = {}
        while True:
            step = self.state.next_response_step()
            if step is None:
                return
            self._emit(step)
            run = self.state.last_stepped
            if self._pace == "realtime" and run is not None:
                ahead = started.setdefault(run.id, loop.time()) + run.audio_ms_sent / 1000
                if ahead - loop.time() > 0:
                    await asyncio.sleep(ahead - loop.time())
            # Back-pressure: let the writer drain and the reader handle a barge-in.
            await self._outbox.join()

    def _fault_due(self, event: Event) -> bool:
        fault = self._fault_after
        return (
            fault is not None
            and fault[0] == event.get("type")
            and self.server_event_types.count(fault[0]) >= fault[1]
        )

    async def _apply_fault_after(self) -> None:
        assert self._fault_after is not None
        if self._fault_after[2] == "drop":
            self.drop()
            return
        expired = error_event(
            "session_expired", SESSION_EXPIRED_MESSAGE, error_type="invalid_request_error"
        )
        await self.websocket.send(json.dumps(expired))
        self.server_events.append(expired)
        self._waiters.notify()
        await self.websocket.close()

    async def _writer(self) -> None:
        while True:
            item = await self._outbox.get()
            try:
                if item is _CLOSE:
                    await self.websocket.close()
                    return
                if isinstance(item, _CloseWith):
                    await self.websocket.close(item.code, item.reason)
                    return
                if isinstance(item, str):
                    await self.websocket.send(item)
                    continue
                await self.websocket.send(json.dumps(item))
                self.server_events.append(item)
                self._waiters.notify()
                limit = self._faults.drop_after_server_events
                if limit is not None and len(self.server_events) >= limit:
                    self.drop()
                    return
                if self._fault_due(item):
                    await self._apply_fault_after()
                    return
            finally:
                self._outbox.task_done()
