import pytest

from pipecat_realtime_openai.testing.validation import client_event_error, error_code_and_param


def check(event):
    problem = client_event_error(event)
    assert problem is not None
    return error_code_and_param(problem)


def test_valid_events_pass():
    assert client_event_error({"type": "input_audio_buffer.append", "audio": "AAAA"}) is None
    assert client_event_error({"type": "response.create"}) is None
    assert client_event_error({"type": "session.update", "session": {"type": "realtime"}}) is None


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}},
                },
            },
            ("invalid_value", "session.audio.input.format.rate"),
        ),
        (
            {"type": "conversation.item.truncate", "item_id": "x", "content_index": 0},
            ("missing_required_parameter", "audio_end_ms"),
        ),
        ({"type": "no.such.event"}, ("invalid_value", "type")),
        ({"type": "input_audio_buffer.append", "audio": "***"}, ("invalid_value", "audio")),
        ({"type": "input_audio_buffer.append", "audio": 5}, ("invalid_type", "audio")),
        ({"type": "input_audio_buffer.append"}, ("missing_required_parameter", "audio")),
        (
            {"type": "response.create", "response": {"output_modalities": "audio"}},
            ("invalid_type", "response.output_modalities"),
        ),
    ],
)
def test_problems_map_to_real_codes_and_params(event, expected):
    assert check(event) == expected


def test_non_objects_and_missing_type_are_invalid():
    assert client_event_error([1, 2]) is not None
    assert client_event_error({"audio": "AAAA"}) is not None
