"""The server conversation follows the context: seeding, appends, deletes, edits, resets.

Over a real socket against the simulator. After each step the simulator's item list
(what a real server would hold) is compared, item for item, with what the context
says; the expectations are written out by hand, not computed by the code under test.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image
from pipecat.frames.frames import LLMContextFrame, LLMFullResponseEndFrame, LLMMessagesUpdateFrame
from pipecat.processors.aggregators.llm_context import LLMContext

from tests.reliability.conftest import wait_until
from tests.service.conftest import make_service


def png_uri() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


IMAGE = png_uri()


def shape(item: dict[str, Any]) -> tuple:
    """What an item says, without its id: kind, role, texts or call."""
    kind = item["type"]
    if kind == "function_call":
        return ("call", item["call_id"], item["name"], item["arguments"])
    if kind == "function_call_output":
        return ("output", item["call_id"], item["output"])
    parts = []
    for part in item.get("content") or []:
        if part["type"] == "input_image":
            parts.append("<image>")
        else:
            parts.append(part.get("text") or part.get("transcript"))
    return (item["role"], *parts)


def history(turns: int) -> list[dict[str, Any]]:
    """A saved conversation: questions and answers, one tool round, one image."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a tester."}]
    for turn in range(turns):
        if turn == 5:
            messages += [
                {"role": "user", "content": "Look it up."},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_5",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": '{"q": 5}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_5", "content": '{"r": 5}'},
                {"role": "assistant", "content": "Found it."},
            ]
            continue
        if turn == 7:
            content = [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": IMAGE}},
            ]
            messages += [{"role": "user", "content": content}]
        else:
            messages += [{"role": "user", "content": f"Question {turn}"}]
        messages += [{"role": "assistant", "content": f"Answer {turn}"}]
    return messages


def expected_shapes(turns: int) -> list[tuple]:
    shapes: list[tuple] = []
    for turn in range(turns):
        if turn == 5:
            shapes += [
                ("user", "Look it up."),
                ("call", "call_5", "lookup", '{"q": 5}'),
                ("output", "call_5", '{"r": 5}'),
                ("assistant", "Found it."),
            ]
            continue
        question = "What is in this picture?" if turn == 7 else f"Question {turn}"
        shapes += [("user", question)] if turn != 7 else [("user", question, "<image>")]
        shapes += [("assistant", f"Answer {turn}")]
    return shapes


async def started(simulator, harnesses):
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    return service, harness, conn


async def holds(conn, shapes: list[tuple]) -> None:
    def matches() -> bool:
        return [shape(item) for item in conn.items] == shapes

    try:
        await wait_until(matches)
    except TimeoutError:
        raise AssertionError(f"{[shape(i) for i in conn.items]} != {shapes}") from None


async def test_a_twenty_turn_history_is_seeded_item_by_item(simulator, harnesses):
    service, harness, conn = await started(simulator, harnesses)
    context = LLMContext(messages=history(20))
    await harness.send(LLMContextFrame(context=context))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await wait_until(lambda: len(service.core.conversation.mirror) == len(conn.items))
    mirrored = service.core.conversation.mirror.ids()
    await harness.stop()
    seeded = [shape(item) for item in conn.items][: len(expected_shapes(20))]
    assert seeded == expected_shapes(20)
    assert conn.session["instructions"] == "You are a tester."
    # One response, after the whole history; the server's reply follows it.
    assert conn.client_event_types.count("response.create") == 1
    assert conn.items[-1]["role"] == "assistant"
    assert mirrored == [item["id"] for item in conn.items]


async def test_appends_deletes_edits_and_replacements_reach_the_server(simulator, harnesses):
    service, harness, conn = await started(simulator, harnesses)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "One"},
        {"role": "assistant", "content": "Two"},
        {"role": "user", "content": "Three"},
    ]

    async def update(new: list[dict[str, Any]]) -> None:
        await harness.send(LLMMessagesUpdateFrame(messages=new, run_llm=False))

    async def server_holds(conn, shapes: list[tuple]) -> None:
        await holds(conn, shapes)
        # The mirror, built from the server's events, says the same, ids and order.
        mirror = service.core.conversation.mirror
        await wait_until(lambda: mirror.ids() == [item["id"] for item in conn.items])

    await update(messages)
    await server_holds(conn, [("user", "One"), ("assistant", "Two"), ("user", "Three")])

    messages.append({"role": "user", "content": "Four"})  # append
    await update(list(messages))
    await server_holds(
        conn, [("user", "One"), ("assistant", "Two"), ("user", "Three"), ("user", "Four")]
    )

    del messages[1]  # delete in the middle
    await update(list(messages))
    await server_holds(conn, [("user", "One"), ("user", "Three"), ("user", "Four")])

    messages[1] = {"role": "user", "content": "Three, edited"}  # edit in place
    await update(list(messages))
    await server_holds(conn, [("user", "One"), ("user", "Three, edited"), ("user", "Four")])

    messages.insert(0, {"role": "user", "content": "Zero"})  # insert at the start
    await update(list(messages))
    await server_holds(
        conn, [("user", "Zero"), ("user", "One"), ("user", "Three, edited"), ("user", "Four")]
    )

    await update([{"role": "user", "content": "A fresh start"}])  # replace everything
    await server_holds(conn, [("user", "A fresh start")])
    await harness.stop()
    errors = [e for e in conn.server_events if e["type"] == "error"]
    assert errors == [], "every change was accepted"
    assert conn.client_event_types.count("response.create") == 0, "run_llm=False asks nothing"


async def test_the_packed_seed_sends_the_history_as_one_message(simulator, harnesses):
    service = make_service(simulator, context_seed="packed")
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    context = LLMContext(messages=history(3))
    await harness.send(LLMContextFrame(context=context))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    first, reply = conn.items[0], conn.items[-1]
    assert len(conn.items) == 2 and reply["role"] == "assistant"
    packed = first["content"][0]["text"]
    assert first["role"] == "user" and "Question 0" in packed and "Answer 2" in packed
    assert conn.session["instructions"] == "You are a tester."
