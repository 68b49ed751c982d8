"""The hot-path codec agrees with the pydantic models."""

import base64
import json

import pytest

from pipecat_realtime_openai.protocol import (
    AudioDelta,
    InputAudioBufferAppendEvent,
    ResponseAudioDelta,
    ResponseAudioTranscriptDelta,
    ResponseTextDelta,
    TextDelta,
    TranscriptDelta,
    encode_append,
    parse_client_event,
    parse_server_event,
)
from pipecat_realtime_openai.protocol.official import official_client_event_error

PCM_20MS = bytes(range(256)) * 3 + bytes(192)  # 960 bytes = 20 ms of 24 kHz 16-bit mono


def _delta(event_type: str, delta: str, **extra: object) -> dict:
    return {
        "type": event_type,
        "event_id": "event_1",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": delta,
        **extra,
    }


CASES = [
    ("response.output_audio.delta", AudioDelta, ResponseAudioDelta),
    ("response.output_audio_transcript.delta", TranscriptDelta, ResponseAudioTranscriptDelta),
    ("response.output_text.delta", TextDelta, ResponseTextDelta),
]


@pytest.mark.parametrize(("event_type", "fast_cls", "model_cls"), CASES)
def test_fast_delta_equals_pydantic_parse(event_type, fast_cls, model_cls) -> None:
    data = _delta(event_type, base64.b64encode(PCM_20MS).decode(), obfuscation="abc")
    fast = parse_server_event(json.dumps(data))
    model = model_cls.model_validate(data)
    assert type(fast) is fast_cls
    for field in ("response_id", "item_id", "output_index", "content_index", "delta", "event_id"):
        assert getattr(fast, field) == getattr(model, field)
    assert fast.type == model.type == event_type
    assert fast.to_dict() == model.to_dict() == data


def test_fast_delta_without_event_id_or_extras_round_trips() -> None:
    data = _delta("response.output_text.delta", "Hel")
    del data["event_id"]
    event = parse_server_event(data)
    assert isinstance(event, TextDelta)
    assert event.event_id is None
    assert event.extra is None
    assert event.to_dict() == data


def test_audio_delta_decodes_audio() -> None:
    event = parse_server_event(
        _delta("response.output_audio.delta", base64.b64encode(PCM_20MS).decode())
    )
    assert isinstance(event, AudioDelta)
    assert event.audio() == PCM_20MS


def test_delta_repr_hides_audio() -> None:
    payload = base64.b64encode(PCM_20MS).decode()
    event = parse_server_event(_delta("response.output_audio.delta", payload))
    assert payload[:40] not in repr(event)
    assert f"<{len(payload)} chars>" in repr(event)


def test_deltas_compare_by_value_and_type() -> None:
    a = parse_server_event(_delta("response.output_text.delta", "x"))
    b = parse_server_event(_delta("response.output_text.delta", "x"))
    c = parse_server_event(_delta("response.output_audio_transcript.delta", "x"))
    assert a == b
    assert a != c


@pytest.mark.parametrize("event_id", [None, "evt_42", 'odd "quoted" id'])
def test_encode_append_matches_model(event_id: str | None) -> None:
    text = encode_append(PCM_20MS, event_id=event_id)
    id_field = {} if event_id is None else {"event_id": event_id}
    expected = InputAudioBufferAppendEvent(audio=base64.b64encode(PCM_20MS).decode(), **id_field)
    assert json.loads(text) == expected.to_dict()
    assert parse_client_event(text) == expected
    assert official_client_event_error(json.loads(text)) is None


def test_encode_append_of_empty_audio_is_valid_json() -> None:
    assert json.loads(encode_append(b"")) == {"type": "input_audio_buffer.append", "audio": ""}
