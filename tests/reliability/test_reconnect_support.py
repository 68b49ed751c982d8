"""Helpers shared by the reconnect and rollover tests, and tests of the helpers themselves.

The central check of every reconnect test: the conversation items on the new simulator
connection start with the completed items of the old one, modulo the documented
conversion (audio becomes its transcript as text; audio with no transcript is left
out; items the old server never finished are not restored).
"""

from __future__ import annotations

import asyncio
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    ErrorFrame,
    InputAudioRawFrame,
    LLMContextFrame,
    LLMMessagesAppendFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai.core.reconnect import ReconnectInfo, ReconnectOptions
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import RealtimeSimulator, SimulatedConnection
from tests.service.conftest import WAIT_S, Harness, frames_of, make_service, silence, tone

FAST = ReconnectOptions(
    initial_delay=0.01, max_delay=0.05, jitter=0.0, max_retries=None, max_session_duration=None
)
"""Reconnect quickly and forever (tests end the outage themselves); no rollover."""

_AUDIO = frozenset({"input_audio", "output_audio", "audio"})
_TEXT = frozenset({"input_text", "output_text", "text"})


def normalized(item: dict[str, Any]) -> dict[str, Any] | None:
    """What a restore must preserve of a server item, or None when it is not restored."""
    kind = item.get("type")
    if kind == "function_call":
        keys = ("id", "type", "call_id", "name", "arguments")
        return {key: item.get(key) for key in keys}
    if kind == "function_call_output":
        return {key: item.get(key) for key in ("id", "type", "call_id", "output")}
    if kind != "message":
        return None
    parts = []
    for part in item.get("content") or []:
        if part.get("type") in _AUDIO:
            text = part.get("transcript")
        elif part.get("type") in _TEXT:
            text = part.get("text")
        else:
            parts.append((part.get("type"), part.get("image_url")))
            continue
        if text:
            parts.append(("text", text))
    if not parts:
        return None
    return {"id": item.get("id"), "role": item.get("role"), "content": parts}


def completed_conversation(conn: SimulatedConnection) -> list[dict[str, Any]]:
    """The items of a simulator connection its client saw finished, in comparable form.

    A response's output counts once the client was told it is done (its
    ``conversation.item.done``, or for a call its ``function_call_arguments.done``):
    the server may have finished more, but its client cannot know, and a half-said
    assistant item is not restored.
    """
    done_ids = {
        e["item"]["id"] for e in conn.server_events if e.get("type") == "conversation.item.done"
    }
    done_calls = {
        e["call_id"]
        for e in conn.server_events
        if e.get("type") == "response.function_call_arguments.done"
    }

    def seen_done(item: dict[str, Any]) -> bool:
        if item.get("type") == "function_call":
            return item["id"] in done_ids or item.get("call_id") in done_calls
        if item.get("type") == "message" and item.get("role") == "assistant":
            return item["id"] in done_ids
        return True

    return [
        n
        for item in conn.items
        if item.get("status") == "completed"
        and seen_done(item)
        and (n := normalized(item)) is not None
    ]


def announced_ids(conn: SimulatedConnection) -> set[str]:
    """Ids of the items a connection told its client about."""
    return {
        event["item"]["id"]
        for event in conn.server_events
        if event.get("type") in ("conversation.item.added", "conversation.item.done")
    }


def assert_restored(
    old: SimulatedConnection, new: SimulatedConnection, *, allow_empty: bool = False
) -> None:
    """The new connection's conversation starts with the old one's finished items.

    An item the old server made but never announced (the connection ended first) can
    only come back under a new id: its id is not compared.

    Args:
        old: The connection that was lost or recycled.
        new: The connection that followed it.
        allow_empty: The old connection may have ended before any conversation.
    """
    before = completed_conversation(old)
    after = [n for item in new.items if (n := normalized(item)) is not None]
    assert before or allow_empty, "the old connection had a conversation to restore"
    after = after[: len(before)]
    known = announced_ids(old)
    for old_item, new_item in zip(before, after, strict=False):
        if old_item["id"] not in known:
            old_item.pop("id")
            new_item.pop("id")
    assert after == before


def assert_no_fatal_error(harness: Harness) -> None:
    """The pipeline never received a fatal ErrorFrame."""
    fatal = [f for f in harness.up.of(ErrorFrame) if f.fatal]
    assert not fatal, [f.error for f in fatal]


class ReconnectEvents:
    """Records the service's ``on_reconnecting`` / ``on_reconnected`` calls."""

    def __init__(self, service: OpenAIRealtimeLLMService) -> None:
        self.reconnecting: list[ReconnectInfo] = []
        self.reconnected: list[ReconnectInfo] = []
        self._changed = asyncio.Event()

        @service.event_handler("on_reconnecting")
        async def _reconnecting(service: Any, info: ReconnectInfo) -> None:
            self.reconnecting.append(info)
            self._changed.set()

        @service.event_handler("on_reconnected")
        async def _reconnected(service: Any, info: ReconnectInfo) -> None:
            self.reconnected.append(info)
            self._changed.set()

    async def wait(self, *, reconnecting: int = 0, reconnected: int = 0) -> None:
        """Wait until at least this many calls of each handler happened."""
        async with asyncio.timeout(WAIT_S):
            while len(self.reconnecting) < reconnecting or len(self.reconnected) < reconnected:
                self._changed.clear()
                await self._changed.wait()


class WarningCapture:
    """Collects loguru WARNING messages while active (a context manager)."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._sink_id: int | None = None

    def __enter__(self) -> WarningCapture:
        self._sink_id = logger.add(
            lambda m: self.messages.append(m.record["message"]), level="WARNING"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sink_id is not None:
            logger.remove(self._sink_id)


async def started(
    sim: RealtimeSimulator, harnesses: Any, **kwargs: Any
) -> tuple[OpenAIRealtimeLLMService, Harness, SimulatedConnection, ReconnectEvents]:
    """A service in a running pipeline, its first configured connection, its reconnects."""
    kwargs.setdefault("reconnect", FAST)
    service = make_service(sim, **kwargs)
    events = ReconnectEvents(service)
    harness = harnesses(service)
    await harness.start()
    conn = await sim.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    return service, harness, conn, events


def said(text: str, *, run_llm: bool = True) -> LLMMessagesAppendFrame:
    """A typed user turn."""
    return LLMMessagesAppendFrame(messages=[{"role": "user", "content": text}], run_llm=run_llm)


def first_context(text: str) -> LLMContextFrame:
    """The first context of a conversation: it seeds the conversation and asks for a reply."""
    return LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": text}]))


def audio_frames(audio: bytes, rate: int = 24000) -> list[InputAudioRawFrame]:
    """User audio in 20 ms frames."""
    return [
        InputAudioRawFrame(audio=chunk, sample_rate=rate, num_channels=1)
        for chunk in frames_of(audio, rate)
    ]


def spoken_turn(rate: int = 24000) -> list[InputAudioRawFrame]:
    """Half a second of "speech" and enough silence for server VAD to end the turn."""
    return audio_frames(tone(500, rate) + silence(700, rate), rate)


def test_normalized_converts_audio_to_text_and_skips_what_is_not_restored():
    user_audio = {
        "id": "u1",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": "hello"}],
    }
    user_text = {
        "id": "u1",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hello"}],
    }
    assert normalized(user_audio) == normalized(user_text)
    unheard = {
        "id": "a1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_audio", "transcript": ""}],
    }
    assert normalized(unheard) is None
    assert normalized({"id": "x", "type": "mcp_call"}) is None
    call = {"id": "f", "type": "function_call", "call_id": "c", "name": "n", "arguments": "{}"}
    assert normalized(call) == call
    assert normalized(dict(call, arguments='{"a": 1}')) != normalized(call)
