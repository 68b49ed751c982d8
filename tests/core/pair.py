"""An in-memory client/server pair for whole-conversation tests of the sans-I/O core.

In the spirit of h11's ``ConnectionPair`` test helper: a client
:class:`~pipecat_realtime_openai.core.session.RealtimeSession` and the simulator's
server logic (:class:`~pipecat_realtime_openai.testing.session_state.RealtimeSessionState`)
joined without a socket and without asyncio. Whatever one side says is handed to the
other as text, exactly as it would travel on the wire:

* client actions: ``Send(event)`` goes as ``event.to_json()``, ``SendInputAudio`` as the
  texts of ``session.take_input_audio()``, and the texts ``user_audio`` returns as they
  are, all to ``state.receive_text``;
* server events (dicts) go through ``json.dumps`` and ``parse_server_event`` to the
  client input that takes them: ``audio_out`` / ``transcript_out`` / ``text_out`` for
  the fast-path deltas, ``server_event`` for everything else.

A running response is pulled step by step with ``next_response_step()``, the way the
simulator's socket layer does it: one step only once everything already exchanged has
been delivered both ways, so a cancel or a barge-in lands between two steps.

Time is a plain float, :attr:`SessionPair.now`, which only the test moves.
"""

from __future__ import annotations

import base64
import json
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipecat_realtime_openai.core.actions import (
    Action,
    AudioOut,
    BotSpeechStarted,
    CloseConnection,
    ReportError,
    RunFunctionCall,
    Send,
    SendInputAudio,
    TextOut,
)
from pipecat_realtime_openai.core.context_sync import ContextMessage, ContextSnapshot
from pipecat_realtime_openai.core.items import text_message_item
from pipecat_realtime_openai.core.reconnect import ConnectionEnd, ReconnectOptions, Retry, Stop
from pipecat_realtime_openai.core.session import RealtimeSession
from pipecat_realtime_openai.protocol.client_events import ConversationItemTruncateEvent
from pipecat_realtime_openai.protocol.fast import AudioDelta, TextDelta, TranscriptDelta
from pipecat_realtime_openai.protocol.parse import parse_server_event
from pipecat_realtime_openai.testing.responder import Responder
from pipecat_realtime_openai.testing.session_state import RealtimeSessionState
from pipecat_realtime_openai.testing.transcription import TranscriptQueue

MODEL = "gpt-realtime"
RATE = 24_000
"""Sample rate of the user audio the helpers make (the session's default input rate)."""
FRAME_MS = 20
"""Length of one user audio frame, as a transport delivers them."""
PUMP_LIMIT = 20_000
"""Most moves one ``pump`` makes (a conversation of these tests needs a few hundred)."""


def tone(ms: int, *, amplitude: float = 8000.0, hz: float = 440.0, rate: int = RATE) -> bytes:
    """A sine tone as 16-bit mono PCM (loud enough for the simulator's energy VAD)."""
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def silence(ms: int, *, rate: int = RATE) -> bytes:
    """Silence as 16-bit mono PCM."""
    return bytes(2 * (rate * ms // 1000))


def user_message(text: str) -> ContextMessage:
    """A user message of the application's context."""
    return ContextMessage(role="user", text=text)


@dataclass(frozen=True)
class TruncateSent:
    """A ``conversation.item.truncate`` the client sent, with what it knew then.

    Attributes:
        item_id: The item truncated.
        audio_end_ms: Where the client cut it.
        received_ms: Assistant audio the client had accepted for the item by then.
        at: The clock when it was sent.
    """

    item_id: str
    audio_end_ms: int
    received_ms: float
    at: float


@dataclass
class ServerLink:
    """One connection of the pair: the server state and what crossed it.

    Attributes:
        state: The server logic of this connection (fresh for each connection).
        client_events: Client events the server received, decoded, in order.
        server_events: Server events the server sent, in order (undelivered ones too).
        open: False once the connection ended (nothing crosses it any more).
    """

    state: RealtimeSessionState
    client_events: list[dict[str, Any]] = field(default_factory=list)
    server_events: list[dict[str, Any]] = field(default_factory=list)
    open: bool = True

    def client_types(self) -> list[str]:
        """Types of the client events received on this connection."""
        return [e.get("type", "") if isinstance(e, dict) else "" for e in self.client_events]

    def server_types(self) -> list[str]:
        """Types of the server events sent on this connection."""
        return [e.get("type", "") for e in self.server_events]

    def errors(self) -> list[dict[str, Any]]:
        """The ``error`` payloads the server sent on this connection."""
        return [e["error"] for e in self.server_events if e.get("type") == "error"]

    def item_ids(self) -> list[str]:
        """Ids of the server's conversation items, in server order."""
        return [item["id"] for item in self.state.store.items]


class SessionPair:
    """A client session and a simulated server, joined in memory.

    Attributes:
        client: The client core.
        links: Every connection so far; the last one is the current one.
        now: The fake clock, in seconds; tests move it (see :meth:`advance`).
        actions: Every action the client returned, in order.
        names: Type names of the client's actions in order, plus ``BotSpeechStarted``
            where a hot-path ``AudioOut`` / ``TextOut`` opened the speech (that is how
            the core asks for it), so frame pairs can be counted in one list.
        audio: 16-bit PCM of every ``AudioOut`` (what would be played).
        audio_wire_bytes: Wire bytes of assistant audio the client accepted, per item.
        server_audio: Wire bytes of assistant audio the server generated, per item.
        transcripts: Assistant transcript texts shown (``TextOut.text``).
        texts: Text of text-only replies shown.
        calls: The ``RunFunctionCall`` actions, in order.
        reported: The ``ReportError`` actions, in order.
        close_requested: Reasons of ``CloseConnection`` actions, in order.
        truncates: Every truncate the client sent, with the audio it had received.
    """

    def __init__(
        self,
        session: dict[str, Any] | None = None,
        *,
        responder: Responder | None = None,
        model: str = MODEL,
        reconnect: ReconnectOptions | None = None,
        transcripts: TranscriptQueue | None = None,
        connect: bool = True,
    ) -> None:
        self.model = model
        self.responder = responder
        self.transcripts_source = transcripts
        self.now = 0.0
        self.client = RealtimeSession(
            session if session is not None else {"type": "realtime"},
            model=model,
            name="pair",
            reconnect=reconnect,
            rng=random.Random(0),
        )
        self.links: list[ServerLink] = []
        self.actions: list[Action] = []
        self.names: list[str] = []
        self.audio = bytearray()
        self.audio_wire_bytes: dict[str, int] = {}
        self.server_audio: dict[str, bytearray] = {}
        self.transcripts: list[str] = []
        self.texts: list[str] = []
        self.calls: list[RunFunctionCall] = []
        self.reported: list[ReportError] = []
        self.close_requested: list[str] = []
        self.truncates: list[TruncateSent] = []
        self._to_server: deque[str] = deque()
        self._to_client: deque[dict[str, Any]] = deque()
        if connect:
            self.client.start()
            self.open_connection()

    # -- reading ------------------------------------------------------------------------

    @property
    def link(self) -> ServerLink:
        """The current connection."""
        return self.links[-1]

    @property
    def server(self) -> RealtimeSessionState:
        """The server logic of the current connection."""
        return self.link.state

    @property
    def connected(self) -> bool:
        """Whether a connection is open."""
        return bool(self.links) and self.link.open

    def count(self, name: str) -> int:
        """How many times an action (or hot-path ``BotSpeechStarted``) occurred."""
        return self.names.count(name)

    def sent(self, event_type: str, *, link: ServerLink | None = None) -> list[dict[str, Any]]:
        """Client events of a type the server received (on every connection by default)."""
        links = [link] if link is not None else self.links
        return [e for lk in links for e in lk.client_events if e.get("type") == event_type]

    def received(self, event_type: str, *, link: ServerLink | None = None) -> list[dict[str, Any]]:
        """Server events of a type the server sent (on every connection by default)."""
        links = [link] if link is not None else self.links
        return [e for lk in links for e in lk.server_events if e.get("type") == event_type]

    def mark(self) -> int:
        """Position in :attr:`names` now, to look at what happens after it."""
        return len(self.names)

    def names_since(self, mark: int) -> list[str]:
        """Action names recorded since :meth:`mark` returned ``mark``."""
        return self.names[mark:]

    # -- the clock ----------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the fake clock on."""
        self.now += seconds

    # -- moving things --------------------------------------------------------------------

    def pump(
        self,
        *,
        until: Callable[[], bool] | None = None,
        max_response_steps: int | None = None,
        limit: int = PUMP_LIMIT,
    ) -> bool:
        """Move everything both ways until both sides are quiet.

        Order: what the client sent reaches the server first; then server events reach
        the client one by one (what the client answers goes to the server before the
        next event is delivered); only when both queues are empty is the next step of
        a running response pulled.

        Args:
            until: Stop as soon as this is true (checked after each delivery).
            max_response_steps: Pull at most this many response steps (0: only deliver
                what is already on its way).
            limit: Most deliveries and steps before giving up: a pair that never goes
                quiet (say, responses asking for responses) fails instead of hanging.

        Returns:
            Whether ``until`` became true (False when it is None).
        """
        pulled = 0
        moves = 0
        while self.connected:
            if until is not None and until():
                return True
            moves += 1
            if moves > limit:
                raise AssertionError(f"the pair did not go quiet after {limit} moves")
            if self._to_server:
                self._deliver_to_server(self._to_server.popleft())
                continue
            if self._to_client:
                self._deliver_to_client(self._to_client.popleft())
                continue
            if max_response_steps is not None and pulled >= max_response_steps:
                break
            step = self.server.next_response_step()
            if step is None:
                break
            pulled += 1
            self._from_server(step)
        return until is not None and until()

    def pump_until(self, predicate: Callable[[], bool]) -> None:
        """Pump until ``predicate`` holds; fail when everything went quiet first."""
        if not self.pump(until=predicate):
            raise AssertionError("the pair went quiet before the condition held")

    # -- inputs ---------------------------------------------------------------------------

    def handle(self, actions: Iterable[Action]) -> None:
        """Carry out client actions as a host would (records them, queues what is sent)."""
        for action in actions:
            self.actions.append(action)
            self.names.append(type(action).__name__)
            if isinstance(action, Send):
                event = action.event
                if isinstance(event, ConversationItemTruncateEvent):
                    bytes_per_ms = self.client.playback.bytes_per_ms
                    received = self.audio_wire_bytes.get(event.item_id, 0) / bytes_per_ms
                    self.truncates.append(
                        TruncateSent(event.item_id, event.audio_end_ms, received, self.now)
                    )
                self._send(event.to_json())
            elif isinstance(action, SendInputAudio):
                self._send_texts(self.client.take_input_audio())
            elif isinstance(action, RunFunctionCall):
                self.calls.append(action)
            elif isinstance(action, ReportError):
                self.reported.append(action)
            elif isinstance(action, CloseConnection):
                self.close_requested.append(action.reason)

    def context(
        self, *messages: ContextMessage | str, downstream: bool = True, pump: bool = True
    ) -> None:
        """Give the client a context (strings are user messages); seed = its messages."""
        msgs = [user_message(m) if isinstance(m, str) else m for m in messages]
        seed = [text_message_item(m.text, m.role) for m in msgs if m.role and m.text]
        snapshot = ContextSnapshot(messages=msgs, seed=seed)
        self.handle(self.client.context_changed(snapshot, downstream=downstream))
        if pump:
            self.pump()

    def function_result(self, call_id: str, output: str, *, pump: bool = True) -> None:
        """Answer a function call."""
        self.handle(self.client.function_result(call_id, output))
        if pump:
            self.pump()

    def user_audio(self, pcm: bytes, rate: int = RATE, channels: int = 1) -> None:
        """One frame of user audio; the texts it yields go to the server at once."""
        self._send_texts(self.client.user_audio(pcm, rate, channels))

    def speak(
        self,
        pcm: bytes,
        *,
        frame_ms: int = FRAME_MS,
        rate: int = RATE,
        response_steps_per_frame: int = 0,
    ) -> None:
        """Stream user audio in frames, moving the clock by each frame's length.

        After each frame, what is on its way is delivered both ways, and at most
        ``response_steps_per_frame`` steps of a running response are pulled (so a
        reply keeps streaming while the user talks).
        """
        size = 2 * rate * frame_ms // 1000
        for start in range(0, len(pcm), size):
            self.user_audio(pcm[start : start + size], rate)
            self.advance(frame_ms / 1000)
            self.pump(max_response_steps=response_steps_per_frame)

    def bot_started_speaking(self) -> None:
        """The transport starts playing the assistant audio now."""
        self.client.bot_started_speaking(self.now)

    def bot_stopped_speaking(self) -> None:
        """The transport played out everything it had."""
        self.client.bot_stopped_speaking(self.now)

    def play_out(self) -> None:
        """The transport plays every received assistant audio to the end, in real time.

        Starts playback now, moves the clock by the audio not played yet and reports
        the playback stopped: what a transport does with a reply it was given whole.
        """
        self.bot_started_speaking()
        playback = self.client.playback
        queued_ms = sum(item.bytes_received for item in playback.items) / playback.bytes_per_ms
        self.advance(max(0.0, queued_ms - playback.played_ms(self.now)) / 1000)
        self.bot_stopped_speaking()

    def interruption(self) -> None:
        """The pipeline interrupts the bot now."""
        self.handle(self.client.interruption(self.now))

    # -- the connection ---------------------------------------------------------------------

    def open_connection(self, responder: Responder | None = None) -> None:
        """Open a connection to a fresh server state and pump until quiet.

        Args:
            responder: The new server's responder; the pair's own by default (the
                responder is the "model": a script goes on where it was). The state
                itself (conversation, input buffer, VAD, session) is always new.
        """
        if responder is not None:
            self.responder = responder
        state = RealtimeSessionState(self.model, self.responder, self.transcripts_source)
        self.links.append(ServerLink(state))
        self.handle(self.client.connection_opened(self.now))
        self._from_server(self.server.opening_events())
        self.pump()

    def drop(self, description: str = "dropped") -> Retry | Stop:
        """The connection drops: whatever was on its way is lost.

        Returns:
            What the client decided to do next.
        """
        self.link.open = False
        self._to_server.clear()
        self._to_client.clear()
        step, actions = self.client.connection_ended(ConnectionEnd(description), self.now)
        self.handle(actions)
        return step

    def reconnect(self, responder: Responder | None = None) -> Retry | Stop:
        """Drop the connection, wait the client's delay, and connect to a fresh server."""
        step = self.drop()
        if isinstance(step, Retry):
            self.advance(step.delay)
            self.open_connection(responder)
        return step

    # -- the wire -----------------------------------------------------------------------------

    def _send(self, text: str) -> None:
        if self.connected:
            self._to_server.append(text)

    def _send_texts(self, texts: Sequence[str]) -> None:
        for text in texts:
            self._send(text)

    def _deliver_to_server(self, text: str) -> None:
        decoded, events = self.server.receive_text(text)
        self.link.client_events.append(decoded if isinstance(decoded, dict) else {"raw": text})
        self._from_server(events)

    def _from_server(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            self.link.server_events.append(event)
            if event.get("type") == "response.output_audio.delta":
                audio = base64.b64decode(event["delta"])
                self.server_audio.setdefault(event["item_id"], bytearray()).extend(audio)
            self._to_client.append(event)

    def _deliver_to_client(self, event: dict[str, Any]) -> None:
        parsed = parse_server_event(json.dumps(event))
        if isinstance(parsed, AudioDelta):
            wire = parsed.audio()
            out: AudioOut | None = self.client.audio_out(parsed, wire, self.now)
            if out is not None:
                if out.opens_speech:
                    self.names.append(BotSpeechStarted.__name__)
                self.audio += out.pcm
                item = parsed.item_id
                self.audio_wire_bytes[item] = self.audio_wire_bytes.get(item, 0) + len(wire)
        elif isinstance(parsed, TranscriptDelta):
            text_out: TextOut | None = self.client.transcript_out(parsed, parsed.delta)
            if text_out is not None:
                if text_out.opens_speech:
                    self.names.append(BotSpeechStarted.__name__)
                self.transcripts.append(text_out.text)
        elif isinstance(parsed, TextDelta):
            if self.client.text_out(parsed, parsed.delta):
                self.texts.append(parsed.delta)
        else:
            self.handle(self.client.server_event(parsed, self.now))
