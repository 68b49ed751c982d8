"""Webhook verification, checked against the ``openai`` package's own implementation.

Every case runs through both: ``openai.OpenAI(webhook_secret=...).webhooks.unwrap``
(the reference) and :func:`unwrap_incoming_call`; they must accept and refuse the
same deliveries.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import openai
import pytest

from pipecat_realtime_openai.protocol.webhooks import (
    WebhookVerificationError,
    parse_incoming_call,
    sign_webhook,
    unwrap_incoming_call,
    verify_webhook,
)

SECRET = "whsec_" + base64.b64encode(b"a shared secret of 32 bytes!!!!!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret, also 32 bytes!!!").decode()

BODY = json.dumps(
    {
        "object": "event",
        "id": "evt_685343a1381c819085d44c354e1b330e",
        "type": "realtime.call.incoming",
        "created_at": 1750287018,
        "data": {
            "call_id": "rtc_68e31bb1a5a48193ad2f4f0b67f3c7c1",
            "sip_headers": [
                {"name": "From", "value": "sip:+142555512112@sip.example.com"},
                {"name": "To", "value": "sip:+18005551212@sip.example.com"},
                {"name": "Call-ID", "value": "03782086-4ce9-44bf-8b0d-4e303d2cc590"},
            ],
        },
    }
)


def headers_for(
    body: str = BODY,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
    webhook_id: str = "wh_685342e6c53c8190a1be43f081506c52",
) -> dict[str, str]:
    sent_at = int(time.time()) if timestamp is None else timestamp
    sig = signature or sign_webhook(body, secret=secret, webhook_id=webhook_id, timestamp=sent_at)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(sent_at),
        "webhook-signature": sig,
    }


def reference_accepts(body: str, headers: dict[str, str], secret: str = SECRET) -> bool:
    client = openai.OpenAI(api_key="sk-unused", webhook_secret=secret)
    try:
        client.webhooks.unwrap(body, headers)
    except openai.InvalidWebhookSignatureError:
        return False
    except ValueError:  # a missing header
        return False
    return True


def ours_accepts(body: str, headers: dict[str, Any], secret: str = SECRET) -> bool:
    try:
        unwrap_incoming_call(body, headers, secret=secret)
    except WebhookVerificationError:
        return False
    return True


def both(body: str, headers: dict[str, str], secret: str = SECRET) -> tuple[bool, bool]:
    return reference_accepts(body, headers, secret), ours_accepts(body, headers, secret)


def test_a_valid_delivery_is_accepted_and_read():
    headers = headers_for()
    assert both(BODY, headers) == (True, True)
    call = unwrap_incoming_call(BODY, headers, secret=SECRET)
    assert call.call_id == "rtc_68e31bb1a5a48193ad2f4f0b67f3c7c1"
    assert call.sip_headers[0] == ("From", "sip:+142555512112@sip.example.com")
    assert call.sip_header("call-id") == "03782086-4ce9-44bf-8b0d-4e303d2cc590"
    assert call.event_id == "evt_685343a1381c819085d44c354e1b330e"
    # The reference reads the same call.
    event = openai.OpenAI(api_key="sk-unused", webhook_secret=SECRET).webhooks.unwrap(BODY, headers)
    assert event.data.call_id == call.call_id
    assert [(h.name, h.value) for h in event.data.sip_headers] == list(call.sip_headers)


def test_bytes_body_and_header_case():
    headers = {key.title(): value for key, value in headers_for().items()}
    assert ours_accepts(BODY.encode(), headers)
    assert reference_accepts(BODY.encode(), headers)


def test_a_bad_signature_is_refused():
    headers = headers_for(signature="v1," + base64.b64encode(b"x" * 32).decode())
    assert both(BODY, headers) == (False, False)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        verify_webhook(BODY, headers, secret=SECRET)


def test_a_changed_body_is_refused():
    headers = headers_for()
    changed = BODY.replace("rtc_68e3", "rtc_0000")
    assert both(changed, headers) == (False, False)


def test_the_wrong_secret_is_refused():
    headers = headers_for(secret=OTHER_SECRET)
    assert both(BODY, headers) == (False, False)


# A few seconds past the 300 s edge: the clock may tick between signing and checking.
@pytest.mark.parametrize("age", [305, 3600, -305])
def test_a_timestamp_out_of_the_window_is_refused(age):
    headers = headers_for(timestamp=int(time.time()) - age)
    assert both(BODY, headers) == (False, False)
    with pytest.raises(WebhookVerificationError, match="old" if age > 0 else "ahead"):
        verify_webhook(BODY, headers, secret=SECRET)


@pytest.mark.parametrize("age", [0, 250, -250])
def test_a_timestamp_in_the_window_is_accepted(age):
    headers = headers_for(timestamp=int(time.time()) - age)
    assert both(BODY, headers) == (True, True)


def test_the_tolerance_is_measured_from_now_given():
    headers = headers_for(timestamp=1_000_000)
    verify_webhook(BODY, headers, secret=SECRET, now=1_000_299)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(BODY, headers, secret=SECRET, now=1_000_301)


@pytest.mark.parametrize("good_position", [0, 1, 2])
def test_several_signatures_one_matching(good_position):
    sent_at = int(time.time())
    good = sign_webhook(BODY, secret=SECRET, webhook_id="wh_1", timestamp=sent_at)
    wrong = sign_webhook(BODY, secret=OTHER_SECRET, webhook_id="wh_1", timestamp=sent_at)
    parts = [wrong, wrong, wrong]
    parts[good_position] = good
    headers = headers_for(webhook_id="wh_1", timestamp=sent_at, signature=" ".join(parts))
    assert both(BODY, headers) == (True, True)


def test_several_signatures_none_matching():
    sent_at = int(time.time())
    wrong = sign_webhook(BODY, secret=OTHER_SECRET, webhook_id="wh_1", timestamp=sent_at)
    headers = headers_for(webhook_id="wh_1", timestamp=sent_at, signature=f"{wrong} {wrong}")
    assert both(BODY, headers) == (False, False)


def test_a_signature_without_its_version_prefix_counts_as_the_reference_does():
    headers = headers_for()
    headers["webhook-signature"] = headers["webhook-signature"].removeprefix("v1,")
    assert both(BODY, headers) == (True, True)


def test_a_raw_secret_without_prefix_is_used_as_is_like_the_reference():
    raw = "plain-text-secret"
    headers = headers_for(secret=raw)
    assert both(BODY, headers, secret=raw) == (True, True)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing):
    headers = headers_for()
    del headers[missing]
    assert both(BODY, headers) == (False, False)
    with pytest.raises(WebhookVerificationError, match=missing):
        verify_webhook(BODY, headers, secret=SECRET)


def test_a_timestamp_that_is_no_number_is_refused():
    headers = headers_for()
    headers["webhook-timestamp"] = "yesterday"
    assert both(BODY, headers) == (False, False)


def test_another_event_type_is_refused_after_verification():
    body = json.dumps({"id": "evt_1", "type": "batch.completed", "data": {"id": "batch_1"}})
    headers = headers_for(body)
    verify_webhook(body, headers, secret=SECRET)
    with pytest.raises(WebhookVerificationError, match=r"batch\.completed"):
        unwrap_incoming_call(body, headers, secret=SECRET)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({"type": "realtime.call.incoming", "data": {}}),
        json.dumps({"type": "realtime.call.incoming", "data": {"call_id": ""}}),
    ],
)
def test_a_malformed_incoming_call_is_refused(body):
    with pytest.raises(WebhookVerificationError):
        parse_incoming_call(body)


def test_an_empty_secret_is_refused():
    with pytest.raises(WebhookVerificationError, match="secret"):
        verify_webhook(BODY, headers_for(), secret="")


def test_the_simulators_signature_verifies():
    from pipecat_realtime_openai.testing.sideband import sign

    sent_at = int(time.time())
    headers = headers_for(
        webhook_id="wh_sim",
        timestamp=sent_at,
        signature=sign(BODY, SECRET, "wh_sim", sent_at),
    )
    assert both(BODY, headers) == (True, True)
