"""The core's sideband decisions (a call the server carries), without a socket."""

from __future__ import annotations

import pytest

from pipecat_realtime_openai.core.actions import (
    CloseConnection,
    Metrics,
    Notify,
    ReportError,
)
from pipecat_realtime_openai.core.phase import Phase
from pipecat_realtime_openai.core.reconnect import ConnectionEnd, DisconnectReason, Retry, Stop
from pipecat_realtime_openai.core.sideband import call_ended, sideband_query
from tests.core.session_kit import Kit, kinds, sent

LOST = ConnectionEnd("dropped", DisconnectReason(close_code=1006))
CLOSED_NORMALLY = ConnectionEnd("closed (code 1000)", DisconnectReason(close_code=1000))


def sideband_kit(**options) -> Kit:
    session = {"type": "realtime", "instructions": "Answer the phone."}
    return Kit(session, sideband=True, **options)


def configured(kit: Kit) -> list:
    kit.session.start()
    opened = kit.session.connection_opened(kit.now)
    kit.event("session.updated", session={"type": "realtime"})
    assert kit.session.phase is Phase.READY
    return opened


def test_opening_configures_at_once_without_session_created():
    kit = sideband_kit()
    kit.session.start()
    opened = kit.session.connection_opened(0.0)
    updates = sent(opened, "session.update")
    assert len(updates) == 1
    assert updates[0].session.instructions == "Answer the phone."
    assert kit.session.phase is Phase.CONFIGURING
    kit.event("session.updated", session={"type": "realtime"})
    assert kit.session.phase is Phase.READY


def test_a_plain_connection_still_waits_for_session_created():
    kit = Kit({"type": "realtime"})
    kit.session.start()
    assert kit.session.connection_opened(0.0) == []


def test_late_session_created_sends_nothing_more():
    kit = sideband_kit()
    kit.session.start()
    kit.session.connection_opened(0.0)
    assert sent(kit.event("session.created", session={"type": "realtime"})) == []
    kit.event("session.updated", session={"type": "realtime"})
    assert kit.session.phase is Phase.READY
    # After the configuration, too.
    assert sent(kit.event("session.created", session={"type": "realtime"})) == []


def test_user_audio_is_never_sent():
    kit = sideband_kit()
    configured(kit)
    pcm = bytes(48 * 200)
    assert list(kit.session.user_audio(pcm, 24000, 1)) == []
    assert list(kit.session.input_paused()) == []
    assert kit.session.input_audio.sent_bytes == 0


def test_assistant_audio_is_dropped():
    kit = sideband_kit()
    configured(kit)
    kit.start_response("resp_1")
    assert kit.audio("resp_1", "item_1", 100) is None


def test_turns_and_interruptions_are_the_servers():
    # Turn detection off: a plain session would be in manual turn mode.
    kit = Kit(
        {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        sideband=True,
    )
    configured(kit)
    assert kit.session.manual_turns is False
    kit.start_response("resp_1")
    # The pipeline's local turn end commits nothing and asks for nothing.
    assert kit.session.user_stopped_speaking() == []
    actions = kit.session.interruption(kit.now)
    assert [type(a) for a in actions] == [Metrics]
    assert sent(actions) == []
    # The reply the server runs is not ended by it, but by its response.done.
    done = kit.finish_response("resp_1")
    assert "ResponseEnded" in kinds(done)


def test_a_dropped_socket_reconnects_and_restores_nothing():
    kit = sideband_kit()
    configured(kit)
    kit.event(
        "conversation.item.added",
        item={"id": "item_u1", "type": "message", "role": "user", "content": []},
    )
    kit.event(
        "conversation.item.done",
        item={"id": "item_u1", "type": "message", "role": "user", "content": []},
    )
    step, _ = kit.session.connection_ended(LOST, 1.0)
    assert isinstance(step, Retry)
    assert kit.session.phase is Phase.CONNECTING
    opened = kit.session.connection_opened(1.0)
    assert kinds(opened) == ["Send:session.update"]
    ready = kit.event("session.updated", session={"type": "realtime"})
    assert sent(ready, "conversation.item.create") == []
    assert kit.session.phase is Phase.READY
    assert any(isinstance(a, Notify) and a.handler == "on_reconnected" for a in ready)


@pytest.mark.parametrize(
    "end",
    [CLOSED_NORMALLY, ConnectionEnd("refused", DisconnectReason(http_status=404))],
)
def test_the_call_ending_stops_without_an_error(end):
    kit = sideband_kit()
    configured(kit)
    if end.reason.http_status is not None:
        # A refused reconnect: the socket dropped first, then the call was gone.
        kit.session.connection_ended(LOST, 1.0)
    step, actions = kit.session.connection_ended(end, 2.0)
    assert step == Stop()
    assert kit.session.phase is Phase.CLOSED
    assert [a.handler for a in actions if isinstance(a, Notify)] == ["on_call_ended"]
    assert not any(isinstance(a, ReportError) for a in actions)


def test_a_normal_close_of_a_plain_connection_still_reconnects():
    kit = Kit({"type": "realtime"})
    kit.connect()
    step, _ = kit.session.connection_ended(CLOSED_NORMALLY, 1.0)
    assert isinstance(step, Retry)


def test_a_retired_sideband_socket_reconnects_to_the_call():
    kit = sideband_kit()
    configured(kit)
    retired = kit.session.retire("session_expired")
    assert any(isinstance(a, CloseConnection) for a in retired)
    step, actions = kit.session.connection_ended(CLOSED_NORMALLY, 1.0)
    assert isinstance(step, Retry)
    assert not any(isinstance(a, Notify) and a.handler == "on_call_ended" for a in actions)


def test_no_rollover_on_a_sideband():
    assert sideband_kit().session.rollover_enabled is False
    assert Kit({"type": "realtime"}).session.rollover_enabled is True


@pytest.mark.parametrize(
    ("end", "on_purpose", "expected"),
    [
        (CLOSED_NORMALLY, False, True),
        (CLOSED_NORMALLY, True, False),
        (LOST, False, False),
        (ConnectionEnd("x", DisconnectReason(close_code=1011)), False, False),
        (ConnectionEnd("x", DisconnectReason(http_status=404)), False, True),
        (ConnectionEnd("x", DisconnectReason(http_status=410)), False, True),
        (ConnectionEnd("x", DisconnectReason(http_status=503)), False, False),
        (ConnectionEnd("x"), False, False),
    ],
)
def test_call_ended(end, on_purpose, expected):
    assert call_ended(end, closed_on_purpose=on_purpose) is expected


def test_sideband_query():
    assert sideband_query("rtc_abc-123") == {"call_id": "rtc_abc-123"}
    for bad in ("", "rtc_a/../b", "rtc a", "rtc_a&model=x"):
        with pytest.raises(ValueError):
            sideband_query(bad)


def test_audio_before_the_configuration_is_not_held_for_later():
    kit = sideband_kit()
    kit.session.start()
    kit.session.user_audio(bytes(48 * 200), 24000, 1)
    kit.session.connection_opened(0.0)
    kit.event("session.updated", session={"type": "realtime"})
    assert list(kit.session.take_input_audio()) == []
    assert kit.session.input_audio.held_ms == 0
