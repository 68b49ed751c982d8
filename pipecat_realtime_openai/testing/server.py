"""`RealtimeSimulator`: a local WebSocket server that speaks the OpenAI Realtime GA protocol."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Callable, Collection, Mapping
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from loguru import logger
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from pipecat_realtime_openai.protocol.session import (
    DEFAULT_REALTIME_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
)
from pipecat_realtime_openai.testing.connection import Pace, SimulatedConnection
from pipecat_realtime_openai.testing.dialects import PATHS, DialectServerState, make_dialect
from pipecat_realtime_openai.testing.faults import Faults
from pipecat_realtime_openai.testing.local_server import LocalServerLifecycle
from pipecat_realtime_openai.testing.mcp import McpRegistry
from pipecat_realtime_openai.testing.responder import Responder
from pipecat_realtime_openai.testing.server_events import error_event
from pipecat_realtime_openai.testing.session_state import RealtimeSessionState
from pipecat_realtime_openai.testing.sideband import CallDesk, SessionCreated, SimulatedCall
from pipecat_realtime_openai.testing.transcription import TranscriptQueue

REALTIME_PATH = "/v1/realtime"
AZURE_DIALECTS = ("azure", "azure-preview", "voice-live")
DEFAULT_MODEL = DEFAULT_REALTIME_MODEL
INVALID_KEY_MESSAGE = (
    "Incorrect API key provided. You can find your API key at"
    " https://platform.openai.com/account/api-keys."
)
MISSING_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization"
    " header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


class RealtimeSimulator(LocalServerLifecycle):
    """A local stand-in for ``wss://api.openai.com/v1/realtime`` for bot tests.

    Example:
        ```python
        async with RealtimeSimulator(responder=ScriptedResponder([Reply(text="Hi!")])) as sim:
            service = OpenAIRealtimeLLMService(api_key="test", base_url=sim.base_url)
            ...
            conn = await sim.wait_for_connection()
            await conn.wait_for_client_event("response.create")
        ```

    Attributes:
        connections: Every connection accepted so far, oldest first.
        transcripts: Transcripts for the next committed user audio turns (shared by all
            connections); set ``transcripts.transcriber`` to compute them from audio.
        faults: Fault injection settings, read when they apply (may be changed live).
        responder: Decides the replies of every connection.
        mcp: The MCP servers the sessions' ``mcp`` tools can reach (shared by every
            connection; add servers with ``mcp.add_server``).
        pace: ``"fast"`` streams replies as fast as the client reads them,
            ``"realtime"`` paces reply audio at real time.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        responder: Responder | None = None,
        pace: Pace = "fast",
        faults: Faults | None = None,
        rate_limits: bool = False,
        dialect: str = "openai",
        tokens: Callable[[str], bool] | Collection[str] | None = None,
        deployments: tuple[str, ...] = (DEFAULT_REALTIME_MODEL, DEFAULT_TRANSCRIPTION_MODEL),
        mcp: McpRegistry | None = None,
        sideband_session_created: SessionCreated = "never",
    ) -> None:
        """Configure the simulator (nothing listens until `start`).

        Args:
            host: Interface to listen on.
            port: TCP port; 0 picks a free one (see `port` after `start`).
            api_key: Expected key; None accepts any key (and no key).
            responder: Decides replies; None echoes the last user text or transcript.
            pace: ``"fast"`` or ``"realtime"`` reply audio streaming.
            faults: Fault injection settings.
            rate_limits: Send `rate_limits.updated` after each `response.done` (off by
                default, like most recorded real sessions).
            dialect: The provider to speak like (see ``testing.dialects``): ``openai``,
                ``azure``, ``azure-preview``, ``voice-live`` or ``xai``.
            tokens: Azure dialects: the Entra bearer tokens accepted (a collection, or
                a function that tells), besides ``api_key`` in the ``api-key`` header.
                None accepts any token when ``api_key`` is None too.
            deployments: Azure dialects: the deployments a transcription model may name.
            mcp: The MCP servers sessions' ``mcp`` tools can reach (see ``self.mcp``).
            sideband_session_created: Whether a sideband socket (``?call_id=``) gets
                ``session.created``: ``never``, or ``late`` (after the client's
                first event).
        """
        if pace not in ("fast", "realtime"):
            raise ValueError(f"pace must be 'fast' or 'realtime', not {pace!r}")
        self.host = host
        self._requested_port = port
        self._api_key = api_key
        self.responder = responder
        self.pace: Pace = pace
        self.faults = faults if faults is not None else Faults()
        self.rate_limits = rate_limits
        self.mcp = mcp if mcp is not None else McpRegistry()
        self.transcripts = TranscriptQueue()
        self.connections: list[SimulatedConnection] = []
        self._server: Server | None = None
        self._new_connection = asyncio.Event()
        make_dialect(dialect, DialectServerState(), {})  # an unknown name fails here
        self.dialect = dialect
        self._tokens = tokens
        self._dialect_state = DialectServerState(deployments)
        self._calls = CallDesk(api_key, lambda: self.responder, sideband_session_created)

    # --- calls the server carries (SIP, WebRTC) ------------------------------------------

    async def incoming_call(
        self,
        sip_headers: Mapping[str, str] | tuple[tuple[str, str], ...] = (),
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> str:
        """A call rings, as a SIP INVITE to the project's number would.

        Args:
            sip_headers: The INVITE's headers (``From``, ``To``, ...).
            webhook_url: Post the signed ``realtime.call.incoming`` webhook here (the
                answer is awaited: its status is the call's ``webhook_status``).
            webhook_secret: The ``whsec_...`` secret to sign it with.

        Returns:
            The call id: accept it at :attr:`calls_base_url`, then control it at
            ``base_url?call_id=<id>``.
        """
        call = await self._calls.incoming_call(
            sip_headers, webhook_url=webhook_url, webhook_secret=webhook_secret
        )
        return call.call_id

    def call(self, call_id: str) -> SimulatedCall:
        """A call made by :meth:`incoming_call`: its status, REST requests, sockets."""
        return self._calls.calls[call_id]

    def webhook(
        self, call_id: str, secret: str, *, timestamp: int | None = None
    ) -> tuple[str, dict[str, str]]:
        """The signed ``realtime.call.incoming`` delivery of a call: body and headers."""
        return self._calls.webhook(self.call(call_id), secret, timestamp=timestamp)

    @property
    def calls_base_url(self) -> str:
        """REST root of the call endpoints, ``http://127.0.0.1:PORT/v1`` (another port)."""
        return self._calls.base_url

    @property
    def port(self) -> int:
        """The TCP port listened on (valid after `start`)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return self._server.sockets[0].getsockname()[1]

    @property
    def base_url(self) -> str:
        """URL for a client's ``base_url``, e.g. ``ws://127.0.0.1:PORT/v1/realtime``.

        In the ``azure-preview`` dialect it carries ``api-version`` and ``deployment``;
        in ``voice-live``, ``api-version`` (the model is added as ``model=``).
        """
        base = f"ws://{self.host}:{self.port}{PATHS[self.dialect]}"
        if self.dialect == "azure-preview":
            return f"{base}?api-version=2024-10-01-preview&deployment={DEFAULT_MODEL}"
        if self.dialect == "voice-live":
            return f"{base}?api-version=2025-10-01"
        return base

    def url(self, model: str = DEFAULT_MODEL) -> str:
        """Full connection URL for `model` (``base_url?model=...``)."""
        if self.dialect == "azure-preview":
            return self.base_url
        separator = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{separator}model={model}"

    async def start(self) -> None:
        """Start listening."""
        if self._server is not None:
            return
        self._server = await serve(
            self._handle,
            self.host,
            self._requested_port,
            process_request=self._check_request,
            max_size=None,
            # Stopping must not hang on a test client that stopped reading.
            close_timeout=1,
        )
        await self._calls.start()
        logger.debug(f"simulator: listening on {self.base_url}")

    async def stop(self) -> None:
        """Close every connection and stop listening (the call endpoints too)."""
        await self._calls.stop()
        await super().stop()

    async def wait_for_connection(
        self, count: int = 1, timeout_s: float = 5.0
    ) -> SimulatedConnection:
        """Wait until the `count`-th connection has been accepted and return it.

        Args:
            count: Which connection (1 = the first ever accepted).
            timeout_s: Seconds before `TimeoutError` is raised.
        """
        async with asyncio.timeout(timeout_s):
            while len(self.connections) < count:
                event = self._new_connection
                await event.wait()
        return self.connections[count - 1]

    # --- handshake --------------------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path.rstrip("/") != PATHS[self.dialect]:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        call_ids = parse_qs(urlsplit(request.path).query).get("call_id")
        if call_ids and self._calls.sideband_call(call_ids[0]) is None:
            logger.debug("simulator: refused a sideband connection to no active call")
            return connection.respond(HTTPStatus.NOT_FOUND, "Call not found\n")
        if self.dialect in AZURE_DIALECTS and not self._azure_authorized(request):
            # Azure refuses the upgrade itself.
            logger.debug("simulator: refused a connection with a wrong or missing Azure credential")
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        if self.faults.refuse_connections > 0:
            self.faults.refuse_connections -= 1
            if self.faults.refuse_status is None:
                connection.transport.abort()
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "")
            return connection.respond(self.faults.refuse_status, "Service unavailable\n")
        return None

    def _azure_authorized(self, request: Request) -> bool:
        key = request.headers.get("api-key")
        if key is not None:
            return self._api_key is None or hmac.compare_digest(
                key.encode(), self._api_key.encode()
            )
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        token = header[len("Bearer ") :]
        if self._tokens is None:
            return self._api_key is None
        if callable(self._tokens):
            return bool(self._tokens(token))
        return token in self._tokens

    def _auth_error(self, connection: ServerConnection) -> str | None:
        if self.dialect in AZURE_DIALECTS:
            return None  # checked at the upgrade
        if self._api_key is None:
            return None
        header = connection.request.headers.get("Authorization", "") if connection.request else ""
        if not header.startswith("Bearer "):
            return MISSING_KEY_MESSAGE
        if not hmac.compare_digest(header[len("Bearer ") :].encode(), self._api_key.encode()):
            return INVALID_KEY_MESSAGE
        return None

    async def _handle(self, websocket: ServerConnection) -> None:
        problem = self._auth_error(websocket)
        if problem is not None:
            # As the real server: accept the upgrade, say why, close. Never log the key.
            logger.debug("simulator: rejected a connection with a wrong or missing API key")
            event = error_event("invalid_api_key", problem)
            await websocket.send(json.dumps(event))
            await websocket.close(1008, "invalid_api_key")
            return
        query = parse_qs(urlsplit(websocket.request.path).query) if websocket.request else {}
        call = self._calls.sideband_call(query["call_id"][0]) if "call_id" in query else None
        if call is not None and call.state is not None:
            # A sideband socket: the call's session, whichever socket controls it.
            connection = SimulatedConnection(
                websocket,
                call.state,
                model=str(call.state.session.get("model")),
                pace=self.pace,
                faults=self.faults,
                dialect=self._calls.dialect(query),
            )
            call.connections.append(connection)
            await self._serve(connection)
            return
        dialect = make_dialect(self.dialect, self._dialect_state, query)
        model = dialect.model(DEFAULT_MODEL)
        state = RealtimeSessionState(
            model, self.responder, self.transcripts, rate_limits=self.rate_limits, mcp=self.mcp
        )
        connection = SimulatedConnection(
            websocket, state, model=model, pace=self.pace, faults=self.faults, dialect=dialect
        )
        await self._serve(connection)

    async def _serve(self, connection: SimulatedConnection) -> None:
        self.connections.append(connection)
        self._new_connection.set()
        self._new_connection = asyncio.Event()
        await connection.run()
