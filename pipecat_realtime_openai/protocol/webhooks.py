"""Verification of OpenAI's webhooks (Standard Webhooks), and the incoming call event.

OpenAI announces a SIP call with a ``realtime.call.incoming`` webhook: a JSON body
and three headers, ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256>``, several separated by spaces while
a secret is rotated). The signed content is ``{id}.{timestamp}.{body}``, keyed by the
endpoint's secret (``whsec_<base64>``). This module checks a delivery the way the
``openai`` package's ``client.webhooks.unwrap`` does, with no dependency, and reads
the call out of it.

::

    call = unwrap_incoming_call(body, request.headers, secret=os.environ["OPENAI_WEBHOOK_SECRET"])
    # call.call_id, call.sip_headers
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TOLERANCE_S = 300
"""How far a delivery's timestamp may be from now, either way (replay protection)."""

INCOMING_CALL_EVENT = "realtime.call.incoming"
"""The webhook event type of an incoming SIP call."""


class WebhookVerificationError(ValueError):
    """A webhook delivery is not authentic, too old, or not the event expected."""


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A ``realtime.call.incoming`` webhook event, verified.

    Attributes:
        call_id: The call to accept, reject, refer or hang up, and to control over a
            sideband connection (``?call_id=``).
        sip_headers: The SIP INVITE's headers as ``(name, value)`` pairs, in order,
            repeats kept (untrusted caller metadata: ``From``, ``To``, ...).
        event_id: The webhook event's id (``evt_...``).
        created_at: When the event was made (Unix seconds).
        data: The event's whole ``data`` object (fields not named here included).
    """

    call_id: str
    sip_headers: tuple[tuple[str, str], ...] = ()
    event_id: str = ""
    created_at: int = 0
    data: Mapping[str, Any] = field(default_factory=dict)

    def sip_header(self, name: str) -> str | None:
        """The first value of a SIP header (names compare case-insensitively), if any."""
        wanted = name.lower()
        return next((value for key, value in self.sip_headers if key.lower() == wanted), None)


def _header(headers: Mapping[str, str], name: str) -> str:
    # Web frameworks hand headers over case-insensitively or not; accept both.
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"the webhook has no {name} header")


def _secret_key(secret: str) -> bytes:
    if not secret:
        raise WebhookVerificationError("no webhook secret was given")
    if not secret.startswith("whsec_"):
        return secret.encode()
    try:
        return base64.b64decode(secret[len("whsec_") :], validate=True)
    except binascii.Error:
        raise WebhookVerificationError("the webhook secret is not whsec_<base64>") from None


def verify_webhook(
    body: str | bytes,
    headers: Mapping[str, str],
    *,
    secret: str,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Check that a webhook delivery was signed with the secret, recently.

    Args:
        body: The request body exactly as received (not re-serialised JSON).
        headers: The request headers (any case).
        secret: The endpoint's signing secret, ``whsec_<base64>`` (the raw string
            otherwise, as the ``openai`` package takes it).
        tolerance_s: Largest allowed distance between the timestamp and now.
        now: Unix seconds (the system clock when None).

    Raises:
        WebhookVerificationError: A header is missing, the timestamp is not a number
            or out of the tolerance, or no signature matches.
    """
    signature_header = _header(headers, "webhook-signature")
    timestamp = _header(headers, "webhook-timestamp")
    webhook_id = _header(headers, "webhook-id")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("the webhook timestamp is not a number") from None
    current = int(time.time() if now is None else now)
    if current - sent_at > tolerance_s:
        raise WebhookVerificationError(
            f"the webhook timestamp is {current - sent_at} s old (more than {tolerance_s} s)"
        )
    if sent_at - current > tolerance_s:
        raise WebhookVerificationError(
            f"the webhook timestamp is {sent_at - current} s ahead (more than {tolerance_s} s)"
        )
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    signed = f"{webhook_id}.{timestamp}.{text}".encode()
    expected = base64.b64encode(hmac.new(_secret_key(secret), signed, hashlib.sha256).digest())
    candidates = [part.removeprefix("v1,") for part in signature_header.split()]
    # Every candidate is compared, in constant time each: which one matched is no signal.
    matched = [hmac.compare_digest(expected, candidate.encode()) for candidate in candidates]
    if not any(matched):
        raise WebhookVerificationError(
            "the webhook signature does not match (wrong secret, or the body was changed)"
        )


def sign_webhook(body: str, *, secret: str, webhook_id: str, timestamp: int) -> str:
    """The ``webhook-signature`` header for a body (to test a webhook receiver).

    Args:
        body: The request body.
        secret: The signing secret (``whsec_<base64>``).
        webhook_id: The ``webhook-id`` header.
        timestamp: The ``webhook-timestamp`` header (Unix seconds).
    """
    signed = f"{webhook_id}.{timestamp}.{body}".encode()
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def parse_incoming_call(body: str | bytes) -> IncomingCall:
    """Read a ``realtime.call.incoming`` event (already verified).

    Args:
        body: The webhook body.

    Raises:
        WebhookVerificationError: It is not JSON, another event type, or has no
            ``data.call_id``.
    """
    try:
        event = json.loads(body)
    except ValueError:
        raise WebhookVerificationError("the webhook body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("the webhook body is not a JSON object")
    kind = event.get("type")
    if kind != INCOMING_CALL_EVENT:
        raise WebhookVerificationError(
            f"the webhook is a {str(kind)[:60]!r} event, not {INCOMING_CALL_EVENT!r}"
        )
    data = event.get("data")
    call_id = data.get("call_id") if isinstance(data, dict) else None
    if not isinstance(call_id, str) or not call_id:
        raise WebhookVerificationError("the realtime.call.incoming event has no data.call_id")
    assert isinstance(data, dict)
    headers = data.get("sip_headers")
    pairs = tuple(
        (str(h["name"]), str(h["value"]))
        for h in (headers if isinstance(headers, list) else [])
        if isinstance(h, dict) and "name" in h and "value" in h
    )
    created = event.get("created_at")
    return IncomingCall(
        call_id=call_id,
        sip_headers=pairs,
        event_id=str(event.get("id", "")),
        created_at=created if isinstance(created, int) else 0,
        data=data,
    )


def unwrap_incoming_call(
    body: str | bytes,
    headers: Mapping[str, str],
    *,
    secret: str,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> IncomingCall:
    """Verify an incoming call webhook and read the call out of it.

    Args:
        body: The request body exactly as received.
        headers: The request headers.
        secret: The endpoint's signing secret (``whsec_...``).
        tolerance_s: Largest allowed distance between the timestamp and now.
        now: Unix seconds (the system clock when None).

    Returns:
        The call.

    Raises:
        WebhookVerificationError: Not authentic, out of the time window, or not a
            ``realtime.call.incoming`` event.
    """
    verify_webhook(body, headers, secret=secret, tolerance_s=tolerance_s, now=now)
    return parse_incoming_call(body)
