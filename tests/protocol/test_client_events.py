"""Every client event this package can build is valid under the official GA schema."""

import base64
import json

import pytest

from pipecat_realtime_openai.protocol import (
    AudioConfiguration,
    AudioInput,
    AudioOutput,
    ClientEvent,
    ConversationItem,
    ConversationItemCreateEvent,
    ConversationItemDeleteEvent,
    ConversationItemRetrieveEvent,
    ConversationItemTruncateEvent,
    InputAudioBufferAppendEvent,
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
    InputAudioNoiseReduction,
    InputAudioTranscription,
    ItemContent,
    OutputAudioBufferClearEvent,
    PCMAAudioFormat,
    PCMAudioFormat,
    PCMUAudioFormat,
    Reasoning,
    ResponseCancelEvent,
    ResponseCreateEvent,
    ResponseProperties,
    SemanticTurnDetection,
    SessionProperties,
    SessionUpdateEvent,
    TurnDetection,
)
from pipecat_realtime_openai.protocol.client_events import CLIENT_EVENT_TYPES
from pipecat_realtime_openai.protocol.official import official_client_event_error

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
PNG_URI = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
PCM_B64 = base64.b64encode(bytes(960)).decode()


def full_session() -> SessionProperties:
    return SessionProperties(
        model="gpt-realtime",
        output_modalities=["audio"],
        instructions="You are terse.",
        audio=AudioConfiguration(
            input=AudioInput(
                format=PCMAudioFormat(),
                transcription=InputAudioTranscription(model="gpt-4o-transcribe", language="en"),
                noise_reduction=InputAudioNoiseReduction(type="near_field"),
                turn_detection=TurnDetection(
                    threshold=0.6,
                    prefix_padding_ms=200,
                    silence_duration_ms=400,
                    idle_timeout_ms=6000,
                    create_response=True,
                    interrupt_response=True,
                ),
            ),
            output=AudioOutput(format=PCMAudioFormat(), voice="marin", speed=1.1),
        ),
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        max_output_tokens=4096,
        tracing="auto",
        truncation="auto",
        include=["item.input_audio_transcription.logprobs"],
    )


BUILT_EVENTS: dict[str, ClientEvent] = {
    "session.update full": SessionUpdateEvent(event_id="evt_1", session=full_session()),
    "session.update g711": SessionUpdateEvent(
        session=SessionProperties(
            audio=AudioConfiguration(
                input=AudioInput(format=PCMUAudioFormat()),
                output=AudioOutput(format=PCMAAudioFormat(), voice="cedar"),
            )
        )
    ),
    "session.update semantic_vad": SessionUpdateEvent(
        session=SessionProperties(
            audio=AudioConfiguration(
                input=AudioInput(
                    turn_detection=SemanticTurnDetection(eagerness="high", create_response=False)
                )
            )
        )
    ),
    "session.update vad off": SessionUpdateEvent(
        session=SessionProperties(audio=AudioConfiguration(input=AudioInput(turn_detection=False)))
    ),
    "session.update transcription off, tool choice, inf tokens, prompt": SessionUpdateEvent(
        session=SessionProperties(
            audio=AudioConfiguration(input=AudioInput(transcription=None, noise_reduction=None)),
            tool_choice={"type": "function", "name": "get_weather"},
            max_output_tokens="inf",
            truncation={"type": "retention_ratio", "retention_ratio": 0.8},
            prompt={"id": "pmpt_123", "variables": {"city": "Paris"}},
            tracing={"workflow_name": "tests"},
            reasoning=Reasoning(effort="low"),
            output_modalities=["text"],
        )
    ),
    "input_audio_buffer.append": InputAudioBufferAppendEvent(audio=PCM_B64),
    "input_audio_buffer.commit": InputAudioBufferCommitEvent(event_id="c1"),
    "input_audio_buffer.clear": InputAudioBufferClearEvent(),
    "conversation.item.create user text": ConversationItemCreateEvent(
        item=ConversationItem(
            type="message", role="user", content=[ItemContent(type="input_text", text="Hi")]
        )
    ),
    "conversation.item.create user audio": ConversationItemCreateEvent(
        previous_item_id="root",
        item=ConversationItem(
            id="item_user_audio_1",
            type="message",
            role="user",
            content=[ItemContent(type="input_audio", audio=PCM_B64, transcript="hello")],
        ),
    ),
    "conversation.item.create user image": ConversationItemCreateEvent(
        item=ConversationItem(
            type="message",
            role="user",
            content=[
                ItemContent(type="input_text", text="What is this?"),
                ItemContent(type="input_image", image_url=PNG_URI, detail="low"),
            ],
        )
    ),
    "conversation.item.create system": ConversationItemCreateEvent(
        item=ConversationItem(
            type="message", role="system", content=[ItemContent(type="input_text", text="Be kind")]
        )
    ),
    "conversation.item.create assistant text": ConversationItemCreateEvent(
        item=ConversationItem(
            type="message",
            role="assistant",
            content=[ItemContent(type="output_text", text="Hello there")],
        )
    ),
    "conversation.item.create assistant audio": ConversationItemCreateEvent(
        item=ConversationItem(
            type="message",
            role="assistant",
            content=[ItemContent(type="output_audio", transcript="Hello there")],
        )
    ),
    "conversation.item.create function_call": ConversationItemCreateEvent(
        item=ConversationItem(
            type="function_call", call_id="call_1", name="get_weather", arguments='{"city":"Oslo"}'
        )
    ),
    "conversation.item.create function_call_output": ConversationItemCreateEvent(
        item=ConversationItem(type="function_call_output", call_id="call_1", output='{"temp_c": 4}')
    ),
    "conversation.item.retrieve": ConversationItemRetrieveEvent(item_id="item_1"),
    "conversation.item.truncate": ConversationItemTruncateEvent(
        item_id="item_2", content_index=0, audio_end_ms=1500
    ),
    "conversation.item.delete": ConversationItemDeleteEvent(item_id="item_3"),
    "response.create bare": ResponseCreateEvent(),
    "response.create with options": ResponseCreateEvent(
        response=ResponseProperties(
            output_modalities=["text"],
            instructions="Answer in one word.",
            conversation="none",
            metadata={"purpose": "summary"},
            tools=[WEATHER_TOOL],
            tool_choice="required",
            max_output_tokens=200,
            audio=AudioConfiguration(output=AudioOutput(format=PCMUAudioFormat(), voice="ash")),
            input=[
                ConversationItem(
                    type="message",
                    role="user",
                    content=[ItemContent(type="input_text", text="Summarise")],
                )
            ],
        )
    ),
    "response.cancel": ResponseCancelEvent(),
    "response.cancel by id": ResponseCancelEvent(response_id="resp_1"),
    "output_audio_buffer.clear": OutputAudioBufferClearEvent(),
}


@pytest.mark.parametrize("name", sorted(BUILT_EVENTS))
def test_built_event_is_valid_under_official_schema(name: str) -> None:
    event = BUILT_EVENTS[name]
    wire = json.loads(event.to_json())
    assert wire == event.to_dict()
    assert official_client_event_error(wire) is None


def test_all_eleven_client_event_types_are_covered() -> None:
    built_types = {event.type for event in BUILT_EVENTS.values()}
    assert built_types == set(CLIENT_EVENT_TYPES)
    assert len(CLIENT_EVENT_TYPES) == 11


def test_turn_detection_false_is_sent_as_null() -> None:
    wire = BUILT_EVENTS["session.update vad off"].to_dict()
    assert wire["session"]["audio"]["input"] == {"turn_detection": None}


def test_unset_turn_detection_is_omitted() -> None:
    wire = SessionUpdateEvent(session=SessionProperties(instructions="x")).to_dict()
    assert wire == {"type": "session.update", "session": {"type": "realtime", "instructions": "x"}}


def test_explicit_none_is_sent_but_default_none_is_not() -> None:
    wire = BUILT_EVENTS["session.update transcription off, tool choice, inf tokens, prompt"]
    audio_input = wire.to_dict()["session"]["audio"]["input"]
    assert audio_input == {"transcription": None, "noise_reduction": None}


def test_unknown_extra_fields_are_serialised() -> None:
    event = ResponseCreateEvent(response=ResponseProperties(instructions="x", future_flag=True))
    assert event.to_dict()["response"] == {"instructions": "x", "future_flag": True}


def test_invalid_event_gives_one_line_error() -> None:
    error = official_client_event_error({"type": "conversation.item.truncate", "item_id": "x"})
    assert error is not None
    assert "\n" not in error
    assert "audio_end_ms" in error
    assert official_client_event_error({"type": "nope"}) is not None


def test_official_schema_rejects_pcm_at_wrong_rate() -> None:
    event = SessionUpdateEvent(
        session=SessionProperties(
            audio=AudioConfiguration(input=AudioInput(format=PCMAudioFormat(rate=16000)))
        )
    )
    assert official_client_event_error(event.to_dict()) is not None
