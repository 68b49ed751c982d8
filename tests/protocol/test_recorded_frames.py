"""Every frame of the recorded sessions (OpenAI, Azure, xAI) parses to its model and round-trips."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from pipecat_realtime_openai.protocol import (
    CLIENT_EVENT_TYPES,
    FAST_DELTA_TYPES,
    SERVER_EVENT_TYPES,
    MalformedEvent,
    UnknownClientEvent,
    UnknownServerEvent,
    parse_client_event,
    parse_server_event,
)
from pipecat_realtime_openai.protocol.official import official_server_event_error
from tests.conftest import RECORDED_DIR, recorded_dir

PROVIDERS = ("openai", "azure")


def _recording_files() -> list[Path]:
    files = [path for p in PROVIDERS for path in sorted((RECORDED_DIR / p).glob("*.yaml"))]
    # Parity recordings of the same GA providers (xAI deviates from the schema).
    files += [
        path
        for path in sorted((RECORDED_DIR / "parity").glob("*.yaml"))
        if any(f"--{provider}-" in path.name for provider in PROVIDERS)
    ]
    return files or [RECORDED_DIR / "openai" / "missing.yaml"]


def _frames(path: Path, direction: str) -> list[dict[str, Any]]:
    if not path.is_file():
        pytest.skip(f"recorded sessions not found at {path.parent}")
    document = yaml.safe_load(path.read_text())
    return [
        entry["data"]
        for entry in document["interactions"]
        if entry.get("kind") == "message" and entry.get("direction") == direction
    ]


def _recording_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", _recording_files(), ids=_recording_id)
def test_received_frames_parse_to_their_model_and_round_trip(path: Path) -> None:
    frames = _frames(path, "received")
    assert frames
    for data in frames:
        event = parse_server_event(data)
        assert not isinstance(event, UnknownServerEvent | MalformedEvent), (data["type"], event)
        expected_cls = FAST_DELTA_TYPES.get(data["type"]) or SERVER_EVENT_TYPES[data["type"]]
        assert type(event) is expected_cls
        assert event.to_dict() == data


@pytest.mark.parametrize("path", _recording_files(), ids=_recording_id)
def test_received_frames_parse_the_same_from_json_text(path: Path) -> None:
    import json

    for data in _frames(path, "received"):
        assert parse_server_event(json.dumps(data)).to_dict() == data


@pytest.mark.parametrize("path", _recording_files(), ids=_recording_id)
def test_sent_frames_parse_to_known_client_events_and_round_trip(path: Path) -> None:
    frames = _frames(path, "sent")
    assert frames
    for data in frames:
        event = parse_client_event(data)
        assert not isinstance(event, UnknownClientEvent | MalformedEvent), (data["type"], event)
        assert type(event) is CLIENT_EVENT_TYPES[data["type"]]
        assert event.to_dict() == data


@pytest.mark.parametrize("path", _recording_files(), ids=_recording_id)
def test_reserialised_received_frames_stay_valid_under_official_schema(path: Path) -> None:
    for data in _frames(path, "received"):
        if official_server_event_error(data) is not None:
            continue  # the recording itself deviates; round-trip equality covers it
        assert official_server_event_error(parse_server_event(data).to_dict()) is None


def test_xai_response_lifecycle_events_parse_despite_schema_deviations() -> None:
    folder = recorded_dir("xai")
    lifecycle = {"response.created", "response.done", "conversation.item.added"}
    seen: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        for data in _frames(path, "received"):
            if data["type"] in lifecycle:
                event = parse_server_event(data)
                assert type(event) is SERVER_EVENT_TYPES[data["type"]], event
                assert event.to_dict() == data
                seen.add(data["type"])
    assert seen == lifecycle


def _xai_files() -> list[Path]:
    folder = RECORDED_DIR / "xai"
    files = sorted(folder.glob("*.yaml")) + sorted((RECORDED_DIR / "parity").glob("*--xai-*.yaml"))
    return files or [folder / "missing.yaml"]


@pytest.mark.parametrize("path", _xai_files(), ids=_recording_id)
def test_every_received_xai_frame_parses_and_round_trips(path: Path) -> None:
    # xAI sends `ping`, which no OpenAI model describes; every other frame is known.
    frames = _frames(path, "received")
    assert frames
    for data in frames:
        event = parse_server_event(data)
        assert not isinstance(event, MalformedEvent), (data["type"], event)
        if isinstance(event, UnknownServerEvent):
            assert data["type"] == "ping"
        else:
            expected_cls = FAST_DELTA_TYPES.get(data["type"]) or SERVER_EVENT_TYPES[data["type"]]
            assert type(event) is expected_cls
        assert event.to_dict() == data


@pytest.mark.parametrize("path", _xai_files(), ids=_recording_id)
def test_sent_xai_frames_are_known_client_events(path: Path) -> None:
    for data in _frames(path, "sent"):
        event = parse_client_event(data)
        assert not isinstance(event, MalformedEvent), (data["type"], event)
        assert type(event) is CLIENT_EVENT_TYPES[data["type"]], data["type"]
