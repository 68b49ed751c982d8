"""Context -> conversation decisions: an ``LLMContext`` as the core sees it, and what
later context frames must send.

Each context frame hands the core a fresh snapshot of the context; :func:`changes`
does the same after the test changed the context in place.
"""

import itertools

from pipecat.processors.aggregators import async_tool_messages
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai.core.context_items import items_for
from pipecat_realtime_openai.core.context_sync import (
    ContextChanges,
    ContextSnapshot,
    ConversationSync,
)
from pipecat_realtime_openai.core.conversation import ConversationMirror
from pipecat_realtime_openai.core.items import encode_result, text_message_item, to_protocol_item
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.service.context import context_message, context_messages


def view(context: LLMContext) -> ContextSnapshot:
    return ContextSnapshot(messages=context_messages(context.get_messages()))


def new_sync() -> ConversationSync:
    numbers = itertools.count(1)
    return ConversationSync(lambda message: items_for(message, lambda: f"item_{next(numbers)}"))


def changes(sync: ConversationSync, context: LLMContext) -> ContextChanges:
    sync.set_context(view(context))
    return sync.changes(ConversationMirror())


def seeded(messages) -> tuple[ConversationSync, LLMContext]:
    context = LLMContext(messages=list(messages))
    sync = new_sync()
    assert sync.set_context(view(context))
    sync.seed(packed=False)
    return sync, context


def test_nothing_is_sent_before_the_seed():
    sync = new_sync()
    found = changes(sync, LLMContext(messages=[{"role": "user", "content": "hi"}]))
    assert not found.items and not found.results


def test_transcripts_are_not_sent_again_but_appended_messages_are():
    sync, context = seeded([{"role": "user", "content": "hello"}])
    sync.remember_spoken("What  time is it?")
    sync.remember_spoken("It is noon.")
    context.add_message({"role": "user", "content": "What time is it?"})
    context.add_message({"role": "assistant", "content": "It is  noon."})
    context.add_message({"role": "system", "content": "Wrap up now."})
    context.add_message({"role": "user", "content": "Typed question"})
    found = changes(sync, context)
    assert [(i.role, i.content[0].text) for i in found.items] == [
        ("system", "Wrap up now."),
        ("user", "Typed question"),
    ]
    assert not changes(sync, context).items, "synced messages are not sent twice"


def test_tool_results_in_context_are_found_once():
    sync, context = seeded([{"role": "tool", "tool_call_id": "call_old", "content": "{}"}])
    context.add_message({"role": "tool", "tool_call_id": "call_a", "content": "IN_PROGRESS"})
    assert not changes(sync, context).results
    context.set_messages(
        [
            *context.get_messages()[:-1],
            {"role": "tool", "tool_call_id": "call_a", "content": '{"ok": true}'},
        ]
    )
    sync.mark_call_handled("call_b")
    context.add_message({"role": "tool", "tool_call_id": "call_b", "content": "done"})
    results = changes(sync, context).results
    assert [(r.call_id, r.output) for r in results] == [("call_a", '{"ok": true}')]
    assert not changes(sync, context).results


def test_async_tool_final_message_counts_as_result():
    sync, context = seeded([])
    context.add_message(async_tool_messages.build_started_message("call_async"))
    context.add_message(async_tool_messages.build_final_result_message("call_async", '"42"'))
    results = changes(sync, context).results
    assert [r.call_id for r in results] == ["call_async"]
    assert not changes(sync, context).items


def test_connection_reset_requires_a_new_seed():
    sync, context = seeded([{"role": "user", "content": "x"}])
    sync.on_connection_reset()
    assert not sync.seeded
    context.add_message({"role": "system", "content": "later"})
    assert not changes(sync, context).items


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


def test_joining_a_running_conversation_sends_only_what_the_server_lacks():
    context = LLMContext(
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "spoken question"},
            {"role": "assistant", "content": "spoken answer"},
            {"role": "user", "content": "typed note"},
        ]
    )
    sync = new_sync()
    sync.remember_spoken("spoken question")
    sync.remember_spoken("spoken answer")
    assert sync.set_context(view(context))
    joined = sync.join_running_conversation(ConversationMirror())
    assert sync.seeded
    assert [(i.role, i.content[0].text) for i in joined.items] == [("user", "typed note")]


def test_context_messages_as_the_core_sees_them():
    assert context_message({"role": "user", "content": "hi"}).text == "hi"
    tool = context_message({"role": "tool", "tool_call_id": "c1", "content": {"a": 1}})
    assert tool.tool_result is not None and tool.tool_result.output == '{"a": 1}'
    pending = context_message({"role": "tool", "tool_call_id": "c1", "content": "IN_PROGRESS"})
    assert pending.tool_result is None
    call = context_message({"role": "assistant", "tool_calls": [{"id": "c1"}]})
    assert call.tool_traffic and not call.text
    started = context_message(async_tool_messages.build_started_message("c2"))
    assert started.tool_traffic and started.tool_result is None
    assert context_message("not a dict").role is None
