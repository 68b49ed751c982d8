"""Session model semantics: turn detection off, unknown fields, format unions."""

import sys

import pytest

from pipecat_realtime_openai.protocol import (
    AudioInput,
    PCMAAudioFormat,
    PCMUAudioFormat,
    SemanticTurnDetection,
    SessionProperties,
    SessionUpdatedEvent,
    TurnDetection,
    official,
    parse_client_event,
    parse_server_event,
)
from pipecat_realtime_openai.protocol.base import WIRE_CONTEXT


def test_server_null_turn_detection_reads_as_off_and_round_trips() -> None:
    audio_input = AudioInput.model_validate({"turn_detection": None}, context=WIRE_CONTEXT)
    assert audio_input.turn_detection is False
    assert audio_input.to_dict() == {"turn_detection": None}


def test_a_callers_none_turn_detection_leaves_the_server_setting_alone() -> None:
    # Pipecat's built-in service omits None: the server keeps its VAD. The same code
    # must not switch VAD off here.
    for audio_input in (
        AudioInput(turn_detection=None),
        AudioInput.model_validate({"turn_detection": None}),
    ):
        assert audio_input.turn_detection is None
        assert "turn_detection" not in audio_input.to_dict()
    assert AudioInput(turn_detection=False).to_dict() == {"turn_detection": None}


def test_parsed_server_and_client_events_read_null_turn_detection_as_off() -> None:
    session = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    updated = parse_server_event({"type": "session.updated", "event_id": "e", "session": session})
    assert updated.session.audio.input.turn_detection is False
    update = parse_client_event({"type": "session.update", "session": session})
    assert update.session.audio.input.turn_detection is False


def test_turn_detection_variants_parse_to_their_class() -> None:
    server = AudioInput.model_validate({"turn_detection": {"type": "server_vad", "threshold": 0.7}})
    semantic = AudioInput.model_validate({"turn_detection": {"type": "semantic_vad"}})
    assert isinstance(server.turn_detection, TurnDetection)
    assert server.turn_detection.threshold == 0.7
    assert isinstance(semantic.turn_detection, SemanticTurnDetection)


def test_g711_formats_parse_to_their_class() -> None:
    audio_input = AudioInput.model_validate({"format": {"type": "audio/pcmu"}})
    assert isinstance(audio_input.format, PCMUAudioFormat)
    assert isinstance(
        AudioInput.model_validate({"format": {"type": "audio/pcma"}}).format, PCMAAudioFormat
    )


def test_unknown_nested_fields_survive_a_session_round_trip() -> None:
    data = {
        "type": "session.updated",
        "event_id": "e",
        "session": {
            "type": "realtime",
            "future_option": {"a": 1},
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000, "bits": 16}}},
        },
    }
    event = parse_server_event(data)
    assert isinstance(event, SessionUpdatedEvent)
    assert event.to_dict() == data


def test_max_output_tokens_accepts_inf_and_int() -> None:
    assert SessionProperties(max_output_tokens="inf").to_dict()["max_output_tokens"] == "inf"
    assert SessionProperties(max_output_tokens=100).to_dict()["max_output_tokens"] == 100
    with pytest.raises(ValueError):
        SessionProperties(max_output_tokens="lots")


def test_missing_openai_package_gives_clear_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    official.clear_schema_cache()
    monkeypatch.setitem(sys.modules, "openai.types.realtime", None)
    try:
        with pytest.raises(ImportError, match="pip install openai"):
            official.official_client_event_error({"type": "response.create"})
    finally:
        monkeypatch.undo()
        official.clear_schema_cache()
    assert official.official_client_event_error({"type": "response.create"}) is None
