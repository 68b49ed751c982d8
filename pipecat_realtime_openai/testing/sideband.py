"""Calls the simulated server carries (SIP, WebRTC), controlled over a sideband socket.

A test makes a call ring (:meth:`CallDesk.incoming_call`, optionally posting the
signed ``realtime.call.incoming`` webhook to a URL of its own), answers it over the
REST endpoints (``POST /v1/realtime/calls/{call_id}/accept|reject|refer|hangup``, on a
small HTTP server on another loopback port: websockets' server takes no POST), and
controls it over ``/v1/realtime?call_id=...``. Each call keeps one server session
(:class:`~pipecat_realtime_openai.testing.session_state.RealtimeSessionState`) for
all its sideband sockets, so a reconnect finds the conversation where it was.

What a sideband socket does differently (:class:`SidebandDialect`): no
``session.created`` (or one after the client's first event, ``session_created="late"``);
``input_audio_buffer.append`` is refused with an ``error`` (the call carries the
caller's audio); no ``response.output_audio.delta`` (the call plays it), transcripts
and text and function calls as usual. The caller's speech is scripted:
:meth:`SimulatedCall.caller_says`. Hang-up, reject and refer close the call's sockets
with code 1000, as the call is over for them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from loguru import logger

from pipecat_realtime_openai.testing.connection import SimulatedConnection
from pipecat_realtime_openai.testing.dialects import DialectServerState, SimDialect
from pipecat_realtime_openai.testing.ids import new_id
from pipecat_realtime_openai.testing.responder import Responder
from pipecat_realtime_openai.testing.server_events import Event, error_event, make_event
from pipecat_realtime_openai.testing.session_state import RealtimeSessionState
from pipecat_realtime_openai.testing.transcription import TranscriptQueue

CallStatus = Literal["incoming", "accepted", "rejected", "referred", "ended"]
SessionCreated = Literal["never", "late"]

APPEND_REFUSED_MESSAGE = (
    "input_audio_buffer.append is not supported on a sideband connection: "
    "the call carries the caller's audio."
)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """One REST request a call received: its action and JSON body (None when empty)."""

    action: str
    body: dict[str, Any] | None


@dataclass
class SimulatedCall:
    """A call the simulated server carries.

    Attributes:
        call_id: Its id (``rtc_...``).
        sip_headers: The SIP INVITE headers of the webhook, ``(name, value)``.
        status: ``incoming``, then ``accepted``, ``rejected``, ``referred`` or ``ended``.
        requests: Every REST request received for it, in order.
        state: The server session, made at accept.
        connections: Its sideband sockets, oldest first.
        webhook_status: HTTP status the webhook receiver answered, if one was posted.
    """

    call_id: str
    sip_headers: tuple[tuple[str, str], ...] = ()
    status: CallStatus = "incoming"
    requests: list[CallRequest] = field(default_factory=list)
    state: RealtimeSessionState | None = None
    connections: list[SimulatedConnection] = field(default_factory=list)
    webhook_status: int | None = None

    def request(self, action: str, count: int = 1) -> CallRequest:
        """The ``count``-th request of an action (``KeyError`` when there is none)."""
        found = [r for r in self.requests if r.action == action]
        if len(found) < count:
            raise KeyError(f"call {self.call_id} got {len(found)} {action} requests")
        return found[count - 1]

    async def caller_says(self, transcript: str, audio_ms: float = 300.0) -> None:
        """The caller speaks one turn: server VAD events, transcription, and the reply.

        ``speech_started`` goes out at once, the rest once the caller has spoken for
        ``audio_ms`` (real time passes, as on a call: the client sees the speech
        begin before the reply it causes).

        Args:
            transcript: What the transcription of the turn says.
            audio_ms: How long the turn lasts.

        Raises:
            RuntimeError: The call is not accepted, or has no open sideband socket.
        """
        state, conn = self.state, self._open_connection()
        if state is None or self.status != "accepted" or conn is None:
            raise RuntimeError(f"call {self.call_id} is not active with a sideband socket")
        conn.send_events(state.caller_started())
        await asyncio.sleep(audio_ms / 1000)
        state.transcripts.put(transcript)
        conn.send_events(state.caller_stopped(audio_ms))

    def _open_connection(self) -> SimulatedConnection | None:
        live = [c for c in self.connections if not c.closed.is_set()]
        return live[-1] if live else None

    def end_connections(self, reason: str) -> None:
        """Close every sideband socket of the call with code 1000."""
        for conn in self.connections:
            if not conn.closed.is_set():
                conn.end(1000, reason)


class SidebandDialect(SimDialect):
    """A sideband socket: no session.created first, no audio either way."""

    def __init__(
        self,
        server: DialectServerState,
        query: Mapping[str, list[str]],
        *,
        session_created: SessionCreated = "never",
    ) -> None:
        super().__init__(server, query)
        self._late_created = session_created == "late"

    def opening(self, events: list[Event], state: Any) -> list[Event]:
        """Nothing: a sideband server need not greet with ``session.created``."""
        return []

    def client_in(self, data: Any) -> tuple[Any, list[Event]]:
        """Refuse input audio: the call carries it."""
        if isinstance(data, dict) and data.get("type") == "input_audio_buffer.append":
            return None, [
                error_event(
                    "invalid_request_error",
                    APPEND_REFUSED_MESSAGE,
                    client_event_id=data.get("event_id"),
                )
            ]
        return data, []

    def server_out(self, event: Event) -> list[Event]:
        """Everything but the reply's audio, which goes to the call."""
        if event.get("type") == "response.output_audio.delta":
            return []
        return [event]

    def after_client(self, data: Any, state: Any) -> list[Event]:
        """``session.created`` after the client's first event, when it comes late."""
        if not self._late_created:
            return []
        self._late_created = False
        return [make_event("session.created", session=dict(state.session))]


def sign(body: str, secret: str, webhook_id: str, timestamp: int) -> str:
    """The Standard Webhooks ``v1,<base64>`` signature of a body (the server's side)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


def _post_webhook(url: str, body: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


class CallDesk:
    """The simulator's calls, their REST endpoints and their sideband sessions.

    Args:
        api_key: Expected REST key (None accepts any).
        responder: Returns what decides the replies (read at each accept).
        session_created: ``never`` or ``late`` (see :class:`SidebandDialect`).
    """

    def __init__(
        self,
        api_key: str | None,
        responder: Callable[[], Responder | None],
        session_created: SessionCreated = "never",
    ) -> None:
        self._api_key = api_key
        self.responder = responder
        self.session_created: SessionCreated = session_created
        self.calls: dict[str, SimulatedCall] = {}
        self._server: asyncio.Server | None = None
        self._host = "127.0.0.1"

    # --- the test's side -------------------------------------------------------------

    async def incoming_call(
        self,
        sip_headers: Mapping[str, str] | tuple[tuple[str, str], ...] = (),
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> SimulatedCall:
        """A call rings; with a URL, the signed webhook is posted to it (and awaited)."""
        pairs = tuple(sip_headers.items()) if isinstance(sip_headers, Mapping) else sip_headers
        call = SimulatedCall(new_id("rtc"), tuple(pairs))
        self.calls[call.call_id] = call
        if webhook_url is not None:
            if webhook_secret is None:
                raise ValueError("a webhook needs the secret to sign it with")
            body, headers = self.webhook(call, webhook_secret)
            call.webhook_status = await asyncio.to_thread(_post_webhook, webhook_url, body, headers)
        return call

    def webhook(
        self, call: SimulatedCall, secret: str, *, timestamp: int | None = None
    ) -> tuple[str, dict[str, str]]:
        """The ``realtime.call.incoming`` delivery of a call: its body and headers."""
        event_id = new_id("evt")
        sent_at = int(time.time()) if timestamp is None else timestamp
        body = json.dumps(
            {
                "object": "event",
                "id": event_id,
                "type": "realtime.call.incoming",
                "created_at": sent_at,
                "data": {
                    "call_id": call.call_id,
                    "sip_headers": [{"name": n, "value": v} for n, v in call.sip_headers],
                },
            }
        )
        headers = {
            "Content-Type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(sent_at),
            "webhook-signature": sign(body, secret, event_id, sent_at),
        }
        return body, headers

    # --- the sideband sockets ----------------------------------------------------------

    def sideband_call(self, call_id: str) -> SimulatedCall | None:
        """The accepted call a sideband socket may control, if it is one."""
        call = self.calls.get(call_id)
        return call if call is not None and call.status == "accepted" else None

    def dialect(self, query: Mapping[str, list[str]]) -> SidebandDialect:
        """The dialect of a new sideband socket."""
        return SidebandDialect(DialectServerState(), query, session_created=self.session_created)

    # --- the REST endpoints ------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The REST root for ``RealtimeCalls(base_url=...)``: ``http://127.0.0.1:PORT/v1``."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        port = self._server.sockets[0].getsockname()[1]
        return f"http://{self._host}:{port}/v1"

    async def start(self) -> None:
        """Listen for the REST requests."""
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self._host, 0)

    async def stop(self) -> None:
        """Stop listening."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, answer = await self._one_request(reader)
        except (asyncio.IncompleteReadError, ValueError, ConnectionError):
            status, answer = 400, _error("The request could not be read.", "bad_request")
        payload = json.dumps(answer).encode() if answer is not None else b""
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
        head = (
            f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode() + payload)
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        line = (await reader.readline()).decode("latin-1").strip()
        method, path, _ = line.split(" ", 2)
        headers: dict[str, str] = {}
        while (header := (await reader.readline()).decode("latin-1").strip()) != "":
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        raw = await reader.readexactly(length) if length else b""
        if not self._authorized(headers.get("authorization", "")):
            logger.debug("simulator: refused a call request with a wrong or missing API key")
            return 401, _error("Incorrect API key provided.", "invalid_api_key")
        parts = path.strip("/").split("/")
        if method != "POST" or len(parts) != 5 or parts[:3] != ["v1", "realtime", "calls"]:
            return 404, _error(f"Unknown request URL: {method} {path}.", "unknown_url")
        call_id, action = parts[3], parts[4]
        body = json.loads(raw) if raw else None
        if body is not None and not isinstance(body, dict):
            return 400, _error("The body must be a JSON object.", "invalid_body")
        call = self.calls.get(call_id)
        if call is None:
            return 404, _error(f"Call '{call_id}' not found.", "call_not_found")
        call.requests.append(CallRequest(action, body))
        return self._act(call, action, body or {})

    def _authorized(self, header: str) -> bool:
        if self._api_key is None:
            return True
        given = header.removeprefix("Bearer ").encode()
        return header.startswith("Bearer ") and hmac.compare_digest(given, self._api_key.encode())

    def _act(self, call: SimulatedCall, action: str, body: dict[str, Any]) -> tuple[int, Any]:
        if action == "accept":
            return self._accept(call, body)
        if action == "reject":
            if call.status != "incoming":
                return 400, _error(f"Call '{call.call_id}' is not ringing.", "invalid_call_state")
            call.status = "rejected"
            return 200, None
        if action in ("refer", "hangup"):
            if call.status != "accepted":
                return 400, _error(f"Call '{call.call_id}' is not active.", "invalid_call_state")
            if action == "refer" and not body.get("target_uri"):
                return 400, _error("Missing required parameter: 'target_uri'.", "missing_param")
            call.status = "referred" if action == "refer" else "ended"
            call.end_connections("call transferred" if action == "refer" else "call ended")
            return 200, None
        return 404, _error(f"Unknown call action '{action}'.", "unknown_url")

    def _accept(self, call: SimulatedCall, body: dict[str, Any]) -> tuple[int, Any]:
        if call.status != "incoming":
            return 400, _error(f"Call '{call.call_id}' is not ringing.", "invalid_call_state")
        if body.get("type") != "realtime":
            return 400, _error("Missing required parameter: 'type'.", "missing_param")
        model = str(body.get("model") or "gpt-realtime-2.1")
        # Each call has transcripts of its own: callers_say scripts them per call.
        state = RealtimeSessionState(model, self.responder(), TranscriptQueue())
        update = {key: value for key, value in body.items() if key != "model"}
        answer = state.receive({"type": "session.update", "session": update})
        if answer and answer[0].get("type") == "error":
            problem = answer[0]["error"]
            return 400, _error(problem["message"], problem.get("code"), problem.get("param"))
        call.state = state
        call.status = "accepted"
        return 200, None


def _error(message: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "code": code, "param": param}
    }
