from pipecat_realtime_openai.testing.conversation import ConversationStore


def message(item_id: str | None = None, role: str = "user") -> dict:
    item = {"type": "message", "role": role, "content": [{"type": "input_text", "text": "x"}]}
    if item_id:
        item["id"] = item_id
    return item


def ids(store: ConversationStore) -> list[str]:
    return [item["id"] for item in store.items]


def test_insert_appends_by_default_and_reports_previous_item():
    store = ConversationStore()
    assert store.insert(message("item_a")) == (None, None)
    assert store.insert(message("item_b")) == ("item_a", None)
    assert ids(store) == ["item_a", "item_b"]


def test_root_inserts_first_and_an_id_inserts_after_it():
    store = ConversationStore()
    store.insert(message("item_a"))
    store.insert(message("item_c"))
    assert store.insert(message("item_b"), "item_a") == ("item_a", None)
    assert store.insert(message("item_0"), "root") == (None, None)
    assert ids(store) == ["item_0", "item_a", "item_b", "item_c"]


def test_unknown_previous_item_is_refused_and_nothing_added():
    store = ConversationStore()
    previous, error = store.insert(message("item_a"), "item_missing")
    assert previous is None and error is not None and error.param == "previous_item_id"
    assert store.items == []


def test_missing_id_is_assigned_and_duplicates_refused():
    store = ConversationStore()
    item = message()
    store.insert(item)
    assert item["id"].startswith("item_") and len(item["id"]) == 26
    _, error = store.insert(message(item["id"]))
    assert error is not None


def test_retrieve_and_delete_unknown_ids_give_the_real_codes():
    store = ConversationStore()
    assert store.retrieve("item_x")[1].code == "item_retrieve_invalid_item_id"
    assert store.delete("item_x").code == "item_delete_invalid_item_id"
    store.insert(message("item_a"))
    item, error = store.retrieve("item_a")
    assert error is None and item["id"] == "item_a"
    item["role"] = "changed"
    assert store.get("item_a")["role"] == "user"  # retrieve hands out a copy
    assert store.delete("item_a") is None and store.items == []


def assistant_with_audio(store: ConversationStore, ms: int) -> None:
    store.insert(
        {
            "id": "item_asst",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": "Hello there"}],
        }
    )
    store.audio_ms[("item_asst", 0)] = ms


def test_truncate_past_generated_audio_gives_the_real_message():
    store = ConversationStore()
    assistant_with_audio(store, 2450)
    error = store.truncate("item_asst", 0, 2535)
    assert error is not None and error.code == "invalid_value"
    assert error.message == "Audio content of 2450ms is already shorter than 2535ms"


def test_truncate_shortens_audio_and_drops_transcript():
    store = ConversationStore()
    assistant_with_audio(store, 2450)
    assert store.truncate("item_asst", 0, 1000) is None
    assert store.audio_ms[("item_asst", 0)] == 1000
    assert store.get("item_asst")["content"][0]["transcript"] == ""
    assert store.truncate("item_asst", 0, 1001).message.startswith("Audio content of 1000ms")


def test_truncate_unknown_item_and_non_assistant_audio():
    store = ConversationStore()
    assert store.truncate("item_x", 0, 0).code == "item_truncate_invalid_item_id"
    store.insert(message("item_user"))
    assert store.truncate("item_user", 0, 0).code == "invalid_value"
    assistant_with_audio(store, 500)
    assert store.truncate("item_asst", 1, 0).code == "invalid_value"  # no such audio part
