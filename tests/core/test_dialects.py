"""What a provider's dialect changes in the core's decisions, and how events are written for it."""

from __future__ import annotations

import json

import pytest

from pipecat_realtime_openai.core.actions import UsageReport, UserTranscript
from pipecat_realtime_openai.core.dialect import AZURE, DIALECTS, OPENAI, XAI
from pipecat_realtime_openai.core.reconnect import ConnectionEnd, ReconnectOptions
from pipecat_realtime_openai.protocol.client_events import (
    ConversationItemCreateEvent,
    ResponseCreateEvent,
    ResponseProperties,
    SessionUpdateEvent,
)
from pipecat_realtime_openai.protocol.items import ConversationItem, ItemContent
from pipecat_realtime_openai.protocol.session import SessionProperties
from pipecat_realtime_openai.protocol.shapes import (
    beta_session,
    encoder_for,
    session_from_xai,
    shape_client_event,
    xai_session,
)
from tests.core.session_kit import Kit, logs, response, sent

__all__ = ["logs"]

GA_SESSION = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "instructions": "Be brief.",
    "max_output_tokens": 200,
    "tracing": "auto",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": {"model": "whisper", "language": "fr", "prompt": "names"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
            "noise_reduction": {"type": "near_field"},
        },
        "output": {"format": {"type": "audio/pcmu"}, "voice": "marin", "speed": 1.1},
    },
}


# -- interruption: no truncation where the server takes none -------------------------------


def _barge_in(kit: Kit) -> list:
    kit.connect()
    kit.start_response("resp_1")
    kit.audio("resp_1", "item_a", 1000)
    kit.audio("resp_1", "item_b", 500)
    kit.session.bot_started_speaking(0.0)
    kit.now = 0.3
    return kit.event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="item_u")


def test_openai_truncates_the_reply_heard_in_part_and_deletes_the_unheard_one():
    barge = _barge_in(Kit(dialect=OPENAI))
    assert [(e.type, e.item_id) for e in sent(barge)] == [
        ("conversation.item.truncate", "item_a"),
        ("conversation.item.delete", "item_b"),
    ]


def test_xai_never_truncates_it_keeps_the_heard_reply_and_deletes_the_unheard_one():
    barge = _barge_in(Kit(dialect=XAI))
    assert [(e.type, e.item_id) for e in sent(barge)] == [("conversation.item.delete", "item_b")]


# -- cumulative transcripts (xAI) -----------------------------------------------------------


def test_cumulative_transcript_updates_become_interims_and_one_final():
    kit = Kit(dialect=XAI)
    kit.connect()
    transcripts: list[UserTranscript] = []
    for kind, text, status in [
        ("conversation.item.input_audio_transcription.updated", "Hello?", None),
        ("conversation.item.input_audio_transcription.completed", "Hello?", "in_progress"),
        ("conversation.item.input_audio_transcription.updated", "Hello, my name", None),
        ("conversation.item.input_audio_transcription.completed", "Hello, my name is", "in_progress"),  # noqa: E501
        ("conversation.item.input_audio_transcription.completed", "Hello, my name is Marcelo.", "completed"),  # noqa: E501
    ]:  # fmt: skip
        fields = {"item_id": "item_u", "content_index": 0, "transcript": text}
        if status is not None:
            fields["status"] = status
        actions = kit.event(kind, **fields)
        transcripts += [a for a in actions if isinstance(a, UserTranscript)]
    assert [(t.text, t.final) for t in transcripts] == [
        ("Hello?", False),
        ("Hello, my name", False),
        ("Hello, my name is", False),
        ("Hello, my name is Marcelo.", True),
    ]


# -- usage where xAI puts it ------------------------------------------------------------------


def test_usage_at_the_top_of_response_done_is_reported_with_a_total():
    kit = Kit(dialect=XAI)
    kit.connect()
    kit.start_response("resp_1")
    usage = {"input_tokens": 156, "output_tokens": 40, "input_token_details": {"audio_tokens": 146}}
    done = kit.event(
        "response.done", response=response("resp_1", "completed", usage={}), usage=usage
    )
    reports = [a for a in done if isinstance(a, UsageReport)]
    assert len(reports) == 1
    assert reports[0].usage.total_tokens == 196
    assert reports[0].usage.input_token_details.audio_tokens == 146


def test_a_response_done_without_any_counts_reports_no_usage():
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    done = kit.event("response.done", response=response("resp_1", "completed", usage={}))
    assert not [a for a in done if isinstance(a, UsageReport)]


def test_a_string_status_detail_of_a_failed_response_is_still_reported():
    kit = Kit()
    kit.connect()
    kit.start_response("resp_1")
    failed = response("resp_1", "failed", status_details="unimplemented")
    done = kit.event("response.done", response=failed)
    errors = [a for a in done if type(a).__name__ == "ReportError"]
    assert len(errors) == 1 and "resp_1 failed" in errors[0].message


# -- resumption (xAI) --------------------------------------------------------------------------

RESUMING = {"type": "realtime", "resumption": {"enabled": True}}
FAST = ReconnectOptions(jitter=0.0, max_session_duration=None)


def _drop_and_reopen(kit: Kit) -> None:
    kit.session.connection_ended(ConnectionEnd("the connection closed unexpectedly"), kit.now)
    kit.session.connection_opened(kit.now)


def test_the_conversation_to_resume_is_known_only_when_resumption_is_on():
    assert Kit(RESUMING, dialect=OPENAI).session.resumable_conversation is None
    kit = Kit(RESUMING, dialect=XAI, reconnect=FAST)
    kit.connect()
    kit.event("conversation.created", conversation={"id": "conv_1"})
    assert kit.session.resumable_conversation == "conv_1"
    off = Kit(dialect=XAI)
    off.connect()
    off.event("conversation.created", conversation={"id": "conv_1"})
    assert off.session.resumable_conversation is None


def _with_history(kit: Kit) -> None:
    kit.connect()
    kit.event("conversation.created", conversation={"id": "conv_1"})
    item = {"id": "item_1", "type": "message", "role": "user", "status": "completed",
            "content": [{"type": "input_text", "text": "the code word is cobalt"}]}  # fmt: skip
    kit.event("conversation.item.added", item=item)
    kit.event("conversation.item.done", item=item)


def test_a_resumed_conversation_is_not_restored_by_the_client(logs):
    kit = Kit(RESUMING, dialect=XAI, reconnect=FAST)
    _with_history(kit)
    _drop_and_reopen(kit)
    kit.event("session.created", session={"id": "sess_2"})
    kit.event("conversation.created", conversation={"id": "conv_1"})
    configured = kit.event("session.updated", session={})
    assert not sent(configured, "conversation.item.create")
    assert any("resumed conversation conv_1" in line for line in logs)


def test_a_new_conversation_after_a_drop_is_restored_by_the_client():
    kit = Kit(RESUMING, dialect=XAI, reconnect=FAST)
    _with_history(kit)
    _drop_and_reopen(kit)
    kit.event("session.created", session={"id": "sess_2"})
    kit.event("conversation.created", conversation={"id": "conv_2"})
    configured = kit.event("session.updated", session={})
    assert [e.item.id for e in sent(configured, "conversation.item.create")] == ["item_1"]


# -- what a session asks for that the server will not take -----------------------------------


def test_session_warnings_name_rates_and_voices_the_provider_lacks():
    session = {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}},
                         "output": {"voice": "marin"}}}  # fmt: skip
    xai = XAI.session_warnings(session)
    assert len(xai) == 1 and "'marin' is not one of xAI's voices" in xai[0]
    openai = OPENAI.session_warnings(session)
    assert len(openai) == 1 and "not 16000 Hz" in openai[0]
    assert DIALECTS["voice-live"].session_warnings({"audio": {"output": {"voice": "any"}}}) == []


# -- wire shapes ----------------------------------------------------------------------------


def test_the_preview_endpoint_gets_a_flat_session():
    flat, dropped = beta_session(GA_SESSION)
    assert flat == {
        "modalities": ["text", "audio"],
        "instructions": "Be brief.",
        "max_response_output_tokens": 200,
        "input_audio_format": "pcm16",
        "input_audio_transcription": {"model": "whisper", "language": "fr", "prompt": "names"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
        "input_audio_noise_reduction": {"type": "near_field"},
        "output_audio_format": "g711_ulaw",
        "voice": "marin",
    }
    assert dropped == ["tracing", "audio.output.speed"]


def test_xai_gets_voice_and_turn_detection_at_the_top_and_its_own_names():
    shaped, dropped = xai_session(GA_SESSION)
    assert shaped == {
        "instructions": "Be brief.",
        "max_response_output_tokens": 200,
        "voice": "marin",
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper", "language_hint": "fr"},
            },
            "output": {"format": {"type": "audio/pcmu"}, "speed": 1.1},
        },
    }
    assert set(dropped) == {
        "output_modalities",
        "tracing",
        "audio.input.noise_reduction",
        "audio.input.transcription.prompt",
    }


def test_xai_manual_turns_are_a_null_type_and_read_back_as_off():
    shaped, _ = xai_session({"audio": {"input": {"turn_detection": None}}})
    assert shaped == {"turn_detection": {"type": None}}
    session = SessionProperties.model_validate(session_from_xai(shaped))
    assert session.audio is not None and session.audio.input is not None
    assert session.audio.input.turn_detection is False


def test_a_partial_session_update_keeps_its_shape():
    assert xai_session({"audio": {"output": {"voice": "rex"}}}) == ({"voice": "rex"}, [])
    assert beta_session({"audio": {"output": {"voice": "alloy"}}}) == ({"voice": "alloy"}, [])


def test_xai_shape_round_trips_through_the_reader():
    shaped, _ = xai_session(GA_SESSION)
    back = session_from_xai(shaped)
    assert back["audio"]["output"]["voice"] == "marin"
    assert (
        back["audio"]["input"]["turn_detection"] == GA_SESSION["audio"]["input"]["turn_detection"]
    )
    assert back["audio"]["input"]["transcription"]["language"] == "fr"
    assert back["max_output_tokens"] == 200


@pytest.mark.parametrize(
    ("shape", "modalities", "expected"),
    [
        ("ga", False, {}),
        ("beta", True, {"modalities": ["text"]}),
        ("xai", True, {}),
    ],
)
def test_response_modalities_per_shape(shape, modalities, expected):
    event = ResponseCreateEvent(
        response=ResponseProperties(output_modalities=["text"], conversation="none")
    ).to_dict()
    shaped, dropped = shape_client_event(event, shape, response_modalities=modalities)  # type: ignore[arg-type]
    assert shaped["response"] == {"conversation": "none", **expected}
    assert dropped == ([] if shape == "beta" else ["response.output_modalities"])


def test_beta_assistant_items_use_beta_content_types():
    item = ConversationItem(
        type="message", role="assistant", content=[ItemContent(type="output_text", text="hi")]
    )
    shaped, _ = shape_client_event(ConversationItemCreateEvent(item=item).to_dict(), "beta")
    assert shaped["item"]["content"] == [{"type": "text", "text": "hi"}]


def test_the_openai_encoder_is_the_event_own_json_and_others_report_what_they_drop():
    event = SessionUpdateEvent(session=SessionProperties.model_validate(GA_SESSION))
    assert encoder_for("ga")(event) == event.to_json()
    dropped: list[tuple[str, list[str]]] = []
    text = encoder_for("xai", on_dropped=lambda kind, names: dropped.append((kind, names)))(event)
    assert "type" not in json.loads(text)["session"]
    assert dropped and dropped[0][0] == "session.update"
    azure = encoder_for("ga", response_modalities=AZURE.response_modalities)
    create = ResponseCreateEvent(response=ResponseProperties(output_modalities=["text"]))
    assert json.loads(azure(create)) == {"type": "response.create", "response": {}}
