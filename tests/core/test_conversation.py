from pathlib import Path
from typing import Any

import pytest
import yaml

from pipecat_realtime_openai.core.conversation import (
    ConversationMirror,
    heard_transcript,
    restorable_item,
)
from pipecat_realtime_openai.protocol.items import ConversationItem, ItemContent
from pipecat_realtime_openai.protocol.official import official_client_event_error
from tests.conftest import RECORDED_DIR, recorded_dir


def user_audio(item_id: str, transcript: str | None = None) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": transcript}],
    }


def assistant_audio(item_id: str, transcript: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": transcript, "audio": "AAAA"}],
    }


def call(item_id: str, call_id: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": "get_weather",
        "arguments": '{"city": "Oslo"}',
    }


def output(item_id: str, call_id: str) -> dict[str, Any]:
    return {"id": item_id, "type": "function_call_output", "call_id": call_id, "output": "sunny"}


def added_and_done(mirror: ConversationMirror, item: dict[str, Any], prev: str | None) -> None:
    mirror.on_item_added(item, prev)
    mirror.on_item_done(item, prev)


def assert_valid_create(item: dict[str, Any]) -> None:
    event = {"type": "conversation.item.create", "item": item}
    assert official_client_event_error(event) is None, item


class TestMirror:
    def test_orders_by_previous_item_id(self) -> None:
        mirror = ConversationMirror()
        added_and_done(mirror, user_audio("u1", "hi"), None)
        added_and_done(mirror, assistant_audio("a1", "hello"), "u1")
        added_and_done(mirror, user_audio("u0", "first"), None)  # null appends
        added_and_done(mirror, user_audio("x", "between"), "u1")
        ids = [item["id"] for item in mirror.completed_items()]
        assert ids == ["u1", "x", "a1", "u0"]

    def test_unknown_previous_id_appends(self) -> None:
        mirror = ConversationMirror()
        added_and_done(mirror, user_audio("u1", "hi"), None)
        added_and_done(mirror, user_audio("u2", "yo"), "0")
        assert [item["id"] for item in mirror.completed_items()] == ["u1", "u2"]

    def test_half_finished_items_are_not_completed(self) -> None:
        mirror = ConversationMirror()
        added_and_done(mirror, user_audio("u1", "hi"), None)
        mirror.on_item_added(
            {"id": "a1", "type": "message", "role": "assistant", "content": []}, "u1"
        )
        assert [item["id"] for item in mirror.completed_items()] == ["u1"]
        assert [item["id"] for item in mirror.restore_plan()] == ["u1"]
        mirror.on_item_done(assistant_audio("a1", "done now"), "u1")
        assert [item["id"] for item in mirror.completed_items()] == ["u1", "a1"]
        assert len(mirror) == 2

    def test_deleted_items_disappear(self) -> None:
        mirror = ConversationMirror()
        added_and_done(mirror, user_audio("u1", "hi"), None)
        added_and_done(mirror, assistant_audio("a1", "hello"), "u1")
        mirror.on_item_deleted("a1")
        mirror.on_item_deleted("never-existed")
        assert [item["id"] for item in mirror.completed_items()] == ["u1"]
        assert mirror.get("a1") is None

    def test_transcript_fills_user_item_in_either_order(self) -> None:
        mirror = ConversationMirror()
        added_and_done(mirror, user_audio("u1"), None)
        mirror.on_input_transcript("u1", 0, "late transcript")
        mirror.on_input_transcript("u2", 0, "early transcript")
        added_and_done(mirror, user_audio("u2"), "u1")
        texts = [item["content"][0]["text"] for item in mirror.restore_plan()]
        assert texts == ["late transcript", "early transcript"]

    def test_done_without_transcript_keeps_the_known_one(self) -> None:
        mirror = ConversationMirror()
        mirror.on_item_added(user_audio("u1"), None)
        mirror.on_input_transcript("u1", 0, "kept")
        mirror.on_item_done(user_audio("u1"), None)
        assert mirror.completed_items()[0]["content"][0]["transcript"] == "kept"

    def test_truncation_drops_audio_and_keeps_transcript(self) -> None:
        mirror = ConversationMirror()
        added_and_done(mirror, assistant_audio("a1", "the full sentence"), None)
        mirror.on_item_truncated("a1", 0, 1200)
        mirror.on_item_truncated("gone", 0, 10)
        entry = mirror.get("a1")
        assert entry is not None and entry.truncated_at_ms == 1200
        assert "audio" not in entry.item["content"][0]
        assert entry.item["content"][0]["transcript"] == "the full sentence"
        mirror.on_item_done(assistant_audio("a1", "the full sentence"), None)
        assert "audio" not in mirror.completed_items()[0]["content"][0]

    def test_restore_sends_only_the_heard_share_of_a_truncated_reply(self) -> None:
        # The server drops a truncated item's transcript: restoring all of it would tell
        # the model the user heard what playback never reached.
        mirror = ConversationMirror()
        transcript = "one two three four five six seven eight nine ten"
        added_and_done(mirror, assistant_audio("a1", transcript), None)
        mirror.on_truncate_sent("a1", 4000)
        mirror.on_item_truncated("a1", 0, 2000)
        mirror.on_item_done(assistant_audio("a1", transcript), None)
        [restored] = mirror.restore_plan()
        assert restored["content"] == [{"type": "output_text", "text": "one two three four five"}]
        # The mirror itself keeps the whole transcript.
        assert mirror.completed_items()[0]["content"][0]["transcript"] == transcript

    def test_truncation_without_a_known_length_restores_the_whole_transcript(self) -> None:
        mirror = ConversationMirror()
        added_and_done(mirror, assistant_audio("a1", "all of it"), None)
        mirror.on_item_truncated("a1", 0, 500)  # truncated by a raw send_client_event
        assert mirror.restore_plan()[0]["content"][0]["text"] == "all of it"

    def test_a_reply_truncated_before_its_first_word_is_not_restored(self) -> None:
        mirror = ConversationMirror()
        added_and_done(mirror, assistant_audio("a1", "Certainly, here it is"), None)
        mirror.on_truncate_sent("a1", 3000)
        mirror.on_item_truncated("a1", 0, 100)
        assert mirror.restore_plan() == []

    def test_completed_items_are_copies(self) -> None:
        mirror = ConversationMirror()
        added_and_done(mirror, user_audio("u1", "hi"), None)
        mirror.completed_items()[0]["content"][0]["transcript"] = "changed"
        assert mirror.completed_items()[0]["content"][0]["transcript"] == "hi"

    def test_accepts_protocol_models(self) -> None:
        mirror = ConversationMirror()
        item = ConversationItem(
            id="u1",
            type="message",
            role="user",
            content=[ItemContent(type="input_text", text="typed")],
        )
        added_and_done(mirror, item, None)  # type: ignore[arg-type]
        assert mirror.restore_plan() == [
            {
                "type": "message",
                "id": "u1",
                "role": "user",
                "content": [{"type": "input_text", "text": "typed"}],
            }
        ]

    def test_items_without_id_are_ignored_and_clear_forgets(self) -> None:
        mirror = ConversationMirror()
        mirror.on_item_done({"type": "message", "role": "user", "content": []})
        assert len(mirror) == 0
        added_and_done(mirror, user_audio("u1", "hi"), None)
        mirror.clear()
        assert mirror.completed_items() == []


class TestRestorePlan:
    def build(self) -> ConversationMirror:
        mirror = ConversationMirror()
        added_and_done(mirror, user_audio("u1", "weather in Oslo?"), None)
        added_and_done(mirror, call("f1", "call_1"), "u1")
        added_and_done(mirror, output("o1", "call_1"), "f1")
        added_and_done(mirror, assistant_audio("a1", "It is sunny."), "o1")
        added_and_done(mirror, user_audio("u2", None), "a1")  # transcription failed
        return mirror

    def test_audio_becomes_text_and_calls_are_kept(self) -> None:
        plan = self.build().restore_plan()
        assert plan == [
            {
                "type": "message",
                "id": "u1",
                "role": "user",
                "content": [{"type": "input_text", "text": "weather in Oslo?"}],
            },
            {
                "type": "function_call",
                "id": "f1",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Oslo"}',
            },
            {"type": "function_call_output", "id": "o1", "call_id": "call_1", "output": "sunny"},
            {
                "type": "message",
                "id": "a1",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "It is sunny."}],
            },
        ]
        for item in plan:
            assert_valid_create(item)

    def test_max_items_keeps_recent_and_drops_orphan_outputs(self) -> None:
        plan = self.build().restore_plan(max_items=2)
        assert [item["id"] for item in plan] == ["a1"]  # o1 lost its call
        assert self.build().restore_plan(max_items=0) == []

    def test_output_of_deleted_call_is_dropped(self) -> None:
        mirror = self.build()
        mirror.on_item_deleted("f1")
        assert "o1" not in [item["id"] for item in mirror.restore_plan()]

    def test_images_kept_for_user_messages(self) -> None:
        item = {
            "id": "img",
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
                {"type": "input_text", "text": "what is this?"},
            ],
        }
        restored = restorable_item(item)
        assert restored is not None
        assert restored["content"][0] == {
            "type": "input_image",
            "image_url": "data:image/png;base64,AAAA",
            "detail": "low",
        }
        assert_valid_create(restored)

    def test_system_and_text_assistant_messages(self) -> None:
        system = {
            "id": "s1",
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "be brief"}],
        }
        assistant = {
            "id": "a1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "ok"}],
        }
        for item in (system, assistant):
            restored = restorable_item(item)
            assert restored is not None
            assert_valid_create(restored)
        assert restorable_item(assistant)["content"] == [  # type: ignore[index]
            {"type": "output_text", "text": "ok"}
        ]

    def test_unknown_item_types_and_empty_messages_are_skipped(self) -> None:
        assert restorable_item({"id": "m", "type": "mcp_call"}) is None
        assert restorable_item(assistant_audio("a", "")) is None


def received_events(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text())
    return [
        entry["data"]
        for entry in data.get("interactions", [])
        if entry.get("direction") == "received" and isinstance(entry.get("data"), dict)
    ]


def feed(mirror: ConversationMirror, event: dict[str, Any]) -> None:
    kind = event.get("type")
    if kind == "conversation.item.added":
        mirror.on_item_added(event["item"], event.get("previous_item_id"))
    elif kind == "conversation.item.done":
        mirror.on_item_done(event["item"], event.get("previous_item_id"))
    elif kind == "conversation.item.deleted":
        mirror.on_item_deleted(event["item_id"])
    elif kind == "conversation.item.truncated":
        mirror.on_item_truncated(event["item_id"], event["content_index"], event["audio_end_ms"])
    elif kind == "conversation.item.input_audio_transcription.completed":
        mirror.on_input_transcript(event["item_id"], event["content_index"], event["transcript"])


RECORDINGS = (
    sorted(p.relative_to(RECORDED_DIR).as_posix() for p in RECORDED_DIR.glob("*/*.yaml"))
    if RECORDED_DIR.is_dir()
    else ["openai/missing.yaml"]
)


@pytest.mark.parametrize("name", RECORDINGS)
def test_recorded_sessions_restore_as_valid_items(name: str) -> None:
    folder = recorded_dir(name.split("/")[0])
    mirror = ConversationMirror()
    events = received_events(folder / name.split("/")[1])
    for event in events:
        feed(mirror, event)
    done_ids = [e["item"]["id"] for e in events if e.get("type") == "conversation.item.done"]
    plan = mirror.restore_plan()
    plan_ids = [item["id"] for item in plan]
    assert set(plan_ids) <= set(done_ids)
    assert len(plan_ids) == len(set(plan_ids))
    for item in plan:
        assert_valid_create(item)
    if done_ids:
        assert plan, "a session with finished items restores to something"


def test_recorded_voice_turn_restores_user_transcript() -> None:
    folder = recorded_dir("openai")
    mirror = ConversationMirror()
    for event in received_events(folder / "audio_in_server_vad_turn.yaml"):
        feed(mirror, event)
    plan = mirror.restore_plan()
    user = [item for item in plan if item.get("role") == "user"]
    assert user[0]["content"] == [{"type": "input_text", "text": "Hello, my name is Marcelo."}]
    assistant = [item for item in plan if item.get("role") == "assistant"]
    assert assistant and assistant[0]["content"][0]["type"] == "output_text"


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        (1.0, "hello brave new world"),
        (1.5, "hello brave new world"),
        (0.0, ""),
        (-1.0, ""),
        (6 / 21, "hello"),  # cut right after "hello "
        (5 / 21, "hello"),  # cut at the space
        (8 / 21, "hello"),  # mid-word: the partly heard word is dropped
        (12 / 21, "hello brave"),
        (3 / 21, ""),  # inside the first word: nothing whole was heard
    ],
)
def test_heard_transcript_cuts_at_word_boundaries(heard: float, expected: str) -> None:
    assert heard_transcript("hello brave new world", heard) == expected


def test_heard_transcript_cuts_text_without_spaces_at_the_character() -> None:
    assert heard_transcript("こんにちは世界", 5 / 7) == "こんにちは"
