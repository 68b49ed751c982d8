"""The events facade offers the names and constructor fields of Pipecat's built-in module."""

import inspect

import pytest
from pydantic import BaseModel

from pipecat_realtime_openai import events
from pipecat_realtime_openai.protocol import AudioDelta, parse_server_event

builtin = pytest.importorskip("pipecat.services.openai.realtime.events")

BUILTIN_MODELS = {
    name: obj
    for name, obj in vars(builtin).items()
    if inspect.isclass(obj)
    and issubclass(obj, BaseModel)
    and obj.__module__ == builtin.__name__
    and name != "AudioFormat"  # a base class there; a union alias of the three formats here
}


def test_builtin_module_has_many_models() -> None:
    assert len(BUILTIN_MODELS) > 40


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_same_class_name_and_field_names(name: str) -> None:
    ours = getattr(events, name)
    assert issubclass(ours, BaseModel)
    missing = set(BUILTIN_MODELS[name].model_fields) - set(ours.model_fields)
    assert not missing


def test_type_aliases_and_functions_exist() -> None:
    assert events.Modality is not None
    assert events.ImageDetail is not None
    assert callable(events.parse_server_event)
    assert events.OPENAI_SAMPLE_RATE == 24000


def test_facade_parse_returns_pydantic_delta_for_isinstance_checks() -> None:
    data = {
        "type": "response.output_audio.delta",
        "event_id": "e",
        "response_id": "r",
        "item_id": "i",
        "output_index": 0,
        "content_index": 0,
        "delta": "AAAA",
    }
    assert isinstance(parse_server_event(data), AudioDelta)
    compat = events.parse_server_event(data)
    assert isinstance(compat, events.ResponseAudioDelta)
    assert compat.to_dict() == data


def test_pipecat_style_session_construction_serialises_to_ga_wire() -> None:
    session = events.SessionProperties(
        instructions="Be brief",
        audio=events.AudioConfiguration(
            input=events.AudioInput(
                format=events.PCMAudioFormat(),
                transcription=events.InputAudioTranscription(),
                turn_detection=False,
            ),
            output=events.AudioOutput(voice="alloy"),
        ),
    )
    wire = events.SessionUpdateEvent(session=session).to_dict()
    assert wire == {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "instructions": "Be brief",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "gpt-realtime-whisper"},
                    "turn_detection": None,
                },
                "output": {"voice": "alloy"},
            },
        },
    }


def test_tools_accept_arbitrary_objects_without_validation() -> None:
    marker = object()
    assert events.SessionProperties(tools=marker).tools is marker
