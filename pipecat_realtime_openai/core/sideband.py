"""Sideband control of a call the server carries (SIP or WebRTC): what changes.

OpenAI can carry a call's audio itself (a phone call over SIP, a browser over WebRTC)
while the application controls the session over a second WebSocket,
``/v1/realtime?call_id=<id>``. On such a connection:

- no audio goes either way: the caller's audio reaches the model from the call, and
  the model's audio goes back to the call. User audio frames of the pipeline are not
  sent, assistant audio deltas (the server sends none) are dropped, and nothing is
  truncated on an interruption: the server knows what the caller heard;
- turns are the server's (its VAD on the call's audio): the service never commits
  or clears the input buffer nor cancels a reply for a local turn;
- the server need not send ``session.created`` first, so the session is configured
  (``session.update``) as soon as the socket opens; a late ``session.created`` changes
  nothing;
- the call, and with it the conversation, lives on the server: a dropped socket
  reconnects to the same call and restores nothing (no items sent again, no re-seed);
  the session configuration is sent again, whole, which the server applies as an
  update. A socket the server closes normally (code 1000), or a reconnect it refuses
  with 404 / 410, means the call ended: the session stops without an error.
- rollover (recycling the socket before the 60 minute limit) is off: it is the call's
  limit, and a new socket to the same call would not reset it.

Pure decisions; the service builds the URL and the core applies them.
"""

from __future__ import annotations

from pipecat_realtime_openai.core.reconnect import ConnectionEnd

CALL_ENDED_CLOSE_CODES = frozenset({1000})
"""Close codes of a sideband socket that mean the call is over."""

CALL_GONE_HTTP_STATUSES = frozenset({404, 410})
"""Handshake refusals of a sideband reconnect that mean the call is over."""


def call_ended(end: ConnectionEnd, *, closed_on_purpose: bool) -> bool:
    """Tell whether an ended sideband connection means the call itself ended.

    Args:
        end: How the connection (or an attempt to open one) ended.
        closed_on_purpose: The client closed it (a retire): the call goes on.

    Returns:
        True when the server closed the socket normally, or refused a connection
        to the call as unknown.
    """
    if closed_on_purpose:
        return False
    reason = end.reason
    if reason.http_status is not None:
        return reason.http_status in CALL_GONE_HTTP_STATUSES
    return reason.close_code in CALL_ENDED_CLOSE_CODES


def sideband_query(call_id: str) -> dict[str, str]:
    """The query parameters of a sideband connection (the model is the call's).

    Args:
        call_id: The call's id (``rtc_...``), from the incoming call webhook or the
            WebRTC call's ``Location`` header.

    Raises:
        ValueError: The id is empty or has characters no call id has.
    """
    if not call_id or not all(c.isalnum() or c in "_-" for c in call_id):
        raise ValueError(f"not a Realtime call id: {call_id!r}")
    return {"call_id": call_id}
