"""parse_server_event / parse_client_event: unknown types, malformed input, never raising."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pipecat_realtime_openai.protocol import (
    AudioDelta,
    ConversationItemTruncateEvent,
    ErrorEvent,
    MalformedEvent,
    ResponseDone,
    UnknownClientEvent,
    UnknownServerEvent,
    bent_fields,
    parse_client_event,
    parse_server_event,
)
from pipecat_realtime_openai.protocol.parse import EXCERPT_CHARS, excerpt


def test_unknown_server_type_keeps_every_field_and_round_trips() -> None:
    data = {"type": "simulator.future_event", "event_id": "e1", "item_id": "x", "n": [1, None]}
    event = parse_server_event(json.dumps(data))
    assert isinstance(event, UnknownServerEvent)
    assert event.type == "simulator.future_event"
    assert event.to_dict() == data


def test_unknown_server_type_without_event_id_is_still_unknown() -> None:
    event = parse_server_event('{"type": "ping"}')
    assert isinstance(event, UnknownServerEvent)
    assert event.to_dict() == {"type": "ping"}


def test_unknown_client_type_round_trips() -> None:
    data = {"type": "session.close", "event_id": "c9", "reason": "bye"}
    event = parse_client_event(data)
    assert isinstance(event, UnknownClientEvent)
    assert event.to_dict() == data


def test_invalid_json_is_malformed() -> None:
    event = parse_server_event('{"type": "error", ')
    assert isinstance(event, MalformedEvent)
    assert "JSON" in event.reason
    assert event.raw_excerpt == '{"type": "error", '


def test_non_object_json_is_malformed() -> None:
    event = parse_server_event("[1, 2]")
    assert isinstance(event, MalformedEvent)
    assert "list" in event.reason


def test_missing_type_is_malformed() -> None:
    for raw in ('{"event_id": "e"}', '{"type": 5}', b'{"type": null}'):
        event = parse_server_event(raw)
        assert isinstance(event, MalformedEvent)
        assert "type" in event.reason


def test_known_type_with_invalid_fields_is_malformed_and_names_the_field() -> None:
    event = parse_server_event({"type": "conversation.item.truncated", "event_id": "e"})
    assert isinstance(event, MalformedEvent)
    assert "conversation.item.truncated" in event.reason
    assert "item_id" in event.reason
    client = parse_client_event({"type": "conversation.item.truncate", "item_id": "i"})
    assert isinstance(client, MalformedEvent)


def test_audio_delta_with_bent_index_still_plays_and_keeps_the_value() -> None:
    data = {
        "type": "response.output_audio.delta",
        "event_id": "e",
        "response_id": "r",
        "item_id": "i",
        "output_index": "zero",
        "content_index": 0,
        "delta": "AAAA",
    }
    event = parse_server_event(data)
    assert type(event) is AudioDelta
    assert event.output_index == 0
    assert bent_fields(event) == ("output_index",)
    assert event.to_dict() == data


def test_audio_delta_with_bad_needed_field_is_malformed_and_names_it() -> None:
    data = {
        "type": "response.output_audio.delta",
        "event_id": "e",
        "response_id": "r",
        "item_id": 7,
        "output_index": 0,
        "content_index": 0,
        "delta": "AAAA",
    }
    event = parse_server_event(data)
    assert isinstance(event, MalformedEvent)
    assert "item_id" in event.reason


def test_invalid_utf8_bytes_are_malformed() -> None:
    assert isinstance(parse_server_event(b"\xff\xfe{"), MalformedEvent)


def test_bytes_and_dict_input_parse_like_text() -> None:
    data = {
        "type": "error",
        "event_id": "e",
        "error": {"type": "invalid_request_error", "code": "response_cancel_not_active",
                  "message": "no active response", "param": None, "event_id": "c1"},
    }  # fmt: skip
    from_text = parse_server_event(json.dumps(data))
    from_bytes = parse_server_event(json.dumps(data).encode())
    from_dict = parse_server_event(data)
    assert isinstance(from_text, ErrorEvent)
    assert from_text == from_bytes == from_dict
    assert from_text.error.code == "response_cancel_not_active"
    assert from_text.to_dict() == data


def test_parsed_known_client_event_has_typed_fields() -> None:
    event = parse_client_event(
        '{"type":"conversation.item.truncate","item_id":"i","content_index":0,"audio_end_ms":120}'
    )
    assert isinstance(event, ConversationItemTruncateEvent)
    assert event.audio_end_ms == 120


def test_response_done_exposes_usage_and_status() -> None:
    data = {
        "type": "response.done",
        "event_id": "e",
        "response": {
            "id": "resp_1",
            "object": "realtime.response",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
            "output": [],
            "usage": {
                "total_tokens": 30,
                "input_tokens": 20,
                "output_tokens": 10,
                "input_token_details": {
                    "text_tokens": 5,
                    "audio_tokens": 15,
                    "cached_tokens": 8,
                    "cached_tokens_details": {"text_tokens": 2, "audio_tokens": 6},
                },
                "output_token_details": {"text_tokens": 3, "audio_tokens": 7},
            },
        },
    }
    event = parse_server_event(data)
    assert isinstance(event, ResponseDone)
    assert event.response.status_details == {"type": "cancelled", "reason": "turn_detected"}
    assert event.response.usage.input_token_details.cached_tokens_details.audio_tokens == 6
    assert event.response.usage.output_token_details.cached_tokens is None
    assert event.to_dict() == data


def test_excerpt_elides_payloads_and_is_short() -> None:
    audio = "QUJD" * 2000
    raw = '{"type":"input_audio_buffer.append","audio":"' + audio + '", "x": 1'
    event = parse_client_event(raw)
    assert isinstance(event, MalformedEvent)
    assert audio[:48] not in event.raw_excerpt
    assert "<8000 chars>" in event.raw_excerpt
    assert len(event.raw_excerpt) <= EXCERPT_CHARS
    assert len(excerpt("a b " * 500)) == EXCERPT_CHARS


def test_excerpt_of_invalid_known_event_hides_audio() -> None:
    audio = "A" * 4000
    event = parse_server_event({"type": "response.output_audio.delta", "delta": audio})
    assert isinstance(event, MalformedEvent)
    assert "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" not in event.raw_excerpt


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
event_types = st.sampled_from(
    ["error", "session.created", "response.done", "response.output_audio.delta",
     "conversation.item.added", "response.output_text.delta", "no.such.type"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_parse_never_raises_on_arbitrary_text(raw: str | bytes) -> None:
    assert parse_server_event(raw) is not None
    assert parse_client_event(raw) is not None


@settings(max_examples=150, deadline=None)
@given(event_types, st.dictionaries(st.text(max_size=15), json_values, max_size=6))
def test_parse_never_raises_on_arbitrary_objects(event_type: str, fields: dict) -> None:
    fields["type"] = event_type
    raw = json.dumps(fields)
    event = parse_server_event(raw)
    assert event is not None
    if not isinstance(event, MalformedEvent):
        assert event.to_dict()["type"] == event_type
    assert parse_client_event(raw) is not None
