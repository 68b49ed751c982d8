"""Context -> conversation decisions (pure): what later context frames must send."""

import asyncio

import pytest
from pipecat.processors.aggregators import async_tool_messages
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.service_context import (
    ConversationSync,
    ItemRetrievals,
    encode_result,
    text_message_item,
    to_protocol_item,
)


def seeded(messages) -> tuple[ConversationSync, LLMContext]:
    context = LLMContext(messages=list(messages))
    sync = ConversationSync()
    assert sync.set_context(context)
    sync.mark_seeded()
    return sync, context


def test_nothing_is_sent_before_the_seed():
    sync = ConversationSync()
    sync.set_context(LLMContext(messages=[{"role": "user", "content": "hi"}]))
    changes = sync.changes()
    assert not changes.items and not changes.results


def test_transcripts_are_not_sent_again_but_appended_messages_are():
    sync, context = seeded([{"role": "user", "content": "hello"}])
    sync.remember_spoken("What  time is it?")
    sync.remember_spoken("It is noon.")
    context.add_message({"role": "user", "content": "What time is it?"})
    context.add_message({"role": "assistant", "content": "It is  noon."})
    context.add_message({"role": "system", "content": "Wrap up now."})
    context.add_message({"role": "user", "content": "Typed question"})
    changes = sync.changes()
    assert [(i.role, i.content[0].text) for i in changes.items] == [
        ("system", "Wrap up now."),
        ("user", "Typed question"),
    ]
    assert not sync.changes().items, "synced messages are not sent twice"


def test_tool_results_in_context_are_found_once():
    sync, context = seeded([{"role": "tool", "tool_call_id": "call_old", "content": "{}"}])
    context.add_message({"role": "tool", "tool_call_id": "call_a", "content": "IN_PROGRESS"})
    assert not sync.changes().results
    context.set_messages(
        [
            *context.get_messages()[:-1],
            {"role": "tool", "tool_call_id": "call_a", "content": '{"ok": true}'},
        ]
    )
    sync.mark_call_handled("call_b")
    context.add_message({"role": "tool", "tool_call_id": "call_b", "content": "done"})
    results = sync.changes().results
    assert [(r.call_id, r.output) for r in results] == [("call_a", '{"ok": true}')]
    assert not sync.changes().results


def test_async_tool_final_message_counts_as_result():
    sync, context = seeded([])
    context.add_message(async_tool_messages.build_started_message("call_async"))
    context.add_message(async_tool_messages.build_final_result_message("call_async", '"42"'))
    results = sync.changes().results
    assert [r.call_id for r in results] == ["call_async"]
    assert not sync.changes().items


def test_connection_reset_requires_a_new_seed():
    sync, context = seeded([{"role": "user", "content": "x"}])
    sync.on_connection_reset()
    assert not sync.seeded
    context.add_message({"role": "system", "content": "later"})
    assert not sync.changes().items


def test_item_helpers():
    assert text_message_item("hi", "developer").role == "system"
    assistant = text_message_item("ok", "assistant")
    assert assistant.content[0].type == "output_text"
    assert encode_result(None) == "COMPLETED"
    assert encode_result({"a": "é"}) == '{"a": "é"}'
    assert encode_result("plain") == "plain"
    item = to_protocol_item(
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "t"}]}
    )
    assert isinstance(item, ConversationItem) and item.content[0].text == "t"


async def test_retrievals_share_one_request_and_fail_by_event():
    retrievals = ItemRetrievals()
    loop = asyncio.get_running_loop()
    first, send_first = retrievals.wait_for("item_1", loop)
    second, send_second = retrievals.wait_for("item_1", loop)
    assert send_first and not send_second
    item = ConversationItem(type="message", id="item_1")
    retrievals.resolve("item_1", item)
    assert await first is item and await second is item
    failing, _ = retrievals.wait_for("item_2", loop)
    assert not retrievals.fail_by_event("other_event", "nope")
    assert retrievals.fail_by_event(retrievals.event_id("item_2"), "no such item")
    with pytest.raises(RuntimeError, match="no such item"):
        await failing


def test_joining_a_running_conversation_sends_only_what_the_server_lacks():
    context = LLMContext(
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "spoken question"},
            {"role": "assistant", "content": "spoken answer"},
            {"role": "user", "content": "typed note"},
        ]
    )
    sync = ConversationSync()
    sync.remember_spoken("spoken question")
    sync.remember_spoken("spoken answer")
    assert sync.set_context(context)
    sync.join_running_conversation()
    assert sync.seeded
    assert [(i.role, i.content[0].text) for i in sync.changes().items] == [("user", "typed note")]
