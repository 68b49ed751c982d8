"""REST control of a Realtime call the server carries: accept, reject, refer, hang up.

``POST {base_url}/realtime/calls/{call_id}/{accept|reject|refer|hangup}`` with a
Bearer key. Built on the standard library (``http.client`` in a worker thread), so it
adds no dependency; the key goes in the ``Authorization`` header and nowhere else
(never in a log line or an error).
"""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from loguru import logger

from pipecat_realtime_openai.core.sideband import sideband_query

DEFAULT_API_BASE_URL = "https://api.openai.com/v1"
"""OpenAI's REST API."""


class RealtimeCallError(RuntimeError):
    """The server refused a call request (a non-2xx answer), or could not be reached.

    Attributes:
        status: The HTTP status (None when no answer came).
        action: ``accept``, ``reject``, ``refer`` or ``hangup``.
        call_id: The call.
        server_message: The server's ``error.message`` (or the start of its body).
        code: The server's ``error.code``, if any.
    """

    def __init__(
        self,
        action: str,
        call_id: str,
        status: int | None,
        server_message: str,
        code: str | None = None,
    ) -> None:
        self.action = action
        self.call_id = call_id
        self.status = status
        self.server_message = server_message
        self.code = code
        where = f"HTTP {status}" if status is not None else "no answer"
        detail = f" [{code}]" if code else ""
        super().__init__(f"{action} of call {call_id} failed: {where}{detail}: {server_message}")


def _error_details(body: bytes) -> tuple[str, str | None]:
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return (text.strip()[:300] or "(empty body)"), None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        code = error.get("code")
        return str(error.get("message") or text[:300]), str(code) if code else None
    return text[:300], None


class RealtimeCalls:
    """Accept, reject, refer and hang up Realtime calls (SIP, WebRTC) over REST.

    Example::

        calls = RealtimeCalls(api_key=os.environ["OPENAI_API_KEY"])
        await calls.accept(call_id, {"type": "realtime", "model": "gpt-realtime-2.1",
                                     "instructions": "You answer the phone."})
        ...
        await calls.hangup(call_id)

    Args:
        api_key: OpenAI API key (sent as a Bearer token; never logged).
        base_url: The REST API root (``https://api.openai.com/v1``; the simulator's
            ``calls_base_url`` in tests).
        timeout: Seconds per request.
        extra_headers: More request headers (a gateway's, ``OpenAI-Project``, ...).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_API_BASE_URL,
        *,
        timeout: float = 10.0,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        self._api_key = api_key
        self._secure = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._root = parts.path.rstrip("/")
        self._timeout = timeout
        self._extra_headers = dict(extra_headers or {})

    def __repr__(self) -> str:
        # No key in a repr: it ends up in logs.
        scheme = "https" if self._secure else "http"
        port = f":{self._port}" if self._port else ""
        return f"RealtimeCalls({scheme}://{self._host}{port}{self._root})"

    async def accept(self, call_id: str, session: Mapping[str, Any]) -> None:
        """Answer an incoming call with a session configuration.

        Args:
            call_id: The call (``data.call_id`` of the incoming call webhook).
            session: The session, as a ``session.update`` would carry it:
                ``type`` (``realtime``, added when missing), ``model``,
                ``instructions``, ``audio``, ``tools``, ...

        Raises:
            RealtimeCallError: The server refused it.
        """
        body = {"type": "realtime", **dict(session)}
        await self._post(call_id, "accept", body)

    async def reject(self, call_id: str, status_code: int | None = None) -> None:
        """Decline an incoming call.

        Args:
            call_id: The call.
            status_code: SIP response code to send the caller (the server's default,
                603 Decline, when None), e.g. 486 Busy Here.

        Raises:
            RealtimeCallError: The server refused it.
        """
        body = {} if status_code is None else {"status_code": status_code}
        await self._post(call_id, "reject", body)

    async def refer(self, call_id: str, target_uri: str) -> None:
        """Transfer an active call (SIP REFER).

        Args:
            call_id: The call.
            target_uri: Where to, e.g. ``tel:+14155550123`` or ``sip:agent@example.com``.

        Raises:
            RealtimeCallError: The server refused it.
        """
        await self._post(call_id, "refer", {"target_uri": target_uri})

    async def hangup(self, call_id: str) -> None:
        """End an active call (its sideband connection closes too).

        Args:
            call_id: The call.

        Raises:
            RealtimeCallError: The server refused it.
        """
        await self._post(call_id, "hangup", None)

    async def _post(self, call_id: str, action: str, body: Mapping[str, Any] | None) -> None:
        sideband_query(call_id)  # refuses an id that could change the path
        path = f"{self._root}/realtime/calls/{quote(call_id, safe='')}/{action}"
        payload = json.dumps(body).encode() if body is not None else b""
        status, answer = await asyncio.to_thread(self._request, path, payload, action, call_id)
        if not 200 <= status < 300:
            message, code = _error_details(answer)
            raise RealtimeCallError(action, call_id, status, message, code)
        logger.debug(f"{self!r}: {action} of call {call_id}: HTTP {status}")

    def _request(self, path: str, payload: bytes, action: str, call_id: str) -> tuple[int, bytes]:
        connection_class = (
            http.client.HTTPSConnection if self._secure else http.client.HTTPConnection
        )
        conn = connection_class(self._host, self._port, timeout=self._timeout)
        headers = {
            **self._extra_headers,
            "Authorization": f"Bearer {self._api_key}",
            "Content-Length": str(len(payload)),
        }
        if payload:
            headers["Content-Type"] = "application/json"
        try:
            conn.request("POST", path, body=payload, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except OSError as exc:
            # The exception text names the host at most, never the headers.
            raise RealtimeCallError(action, call_id, None, f"{type(exc).__name__}: {exc}") from None
        finally:
            conn.close()
