"""Deltas received back to back leave the service as one frame, in the same order.

The receive loop is fed exact batches (as ``RealtimeConnection.message_batches`` yields
them) so what arrives together is deterministic.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)

from tests.service.conftest import make_service

OUTPUT_TYPES = (
    LLMFullResponseStartFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)


class BatchedConnection:
    """Stands in for a connection: yields the given batches, then ends."""

    def __init__(self, batches: list[list[str]]) -> None:
        self._batches = batches

    async def message_batches(self, max_batch: int = 32) -> AsyncIterator[list[str]]:
        for batch in self._batches:
            yield batch


def wire(event_type: str, **fields: Any) -> str:
    return json.dumps({"type": event_type, "event_id": "event_x", **fields})


def part(item: str) -> dict[str, Any]:
    return {"response_id": "resp_m", "item_id": item, "output_index": 0, "content_index": 0}


def audio(item: str, pcm: bytes) -> str:
    encoded = base64.b64encode(pcm).decode("ascii")
    return wire("response.output_audio.delta", delta=encoded, **part(item))


def transcript(item: str, text: str) -> str:
    return wire("response.output_audio_transcript.delta", delta=text, **part(item))


def response(event_type: str, status: str) -> str:
    return wire(event_type, response={"id": "resp_m", "status": status, "output": []})


def pcm(n: int) -> bytes:
    return bytes([n]) * 960  # 20 ms of 24 kHz 16-bit mono


RESPONSE = [
    response("response.created", "in_progress"),
    transcript("i1", "Hel"),
    transcript("i1", "lo "),
    audio("i1", pcm(1)),
    audio("i1", pcm(2)),
    audio("i1", pcm(3)),
    transcript("i1", "there"),
    audio("i1", pcm(4)),
    audio("i2", pcm(5)),
    audio("i2", pcm(6)),
    response("response.done", "completed"),
]


def describe(frames: list[Any]) -> list[tuple[str, Any]]:
    """Each frame as (type name, audio bytes or text); others as (type name, None)."""
    described = []
    for frame in frames:
        if isinstance(frame, TTSAudioRawFrame):
            described.append(("audio", frame.audio))
        elif isinstance(frame, TTSTextFrame | LLMTextFrame):
            described.append((type(frame).__name__, frame.text))
        else:
            described.append((type(frame).__name__, None))
    return described


async def run_batches(simulator, harnesses, batches: list[list[str]]):
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await service.supervisor.receive(BatchedConnection(batches))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    frames = harness.down.of(*OUTPUT_TYPES)
    items = {item.item_id: item.bytes_received for item in service.core.playback.items}
    await harness.stop()
    return describe(frames), items


async def test_one_batch_becomes_one_frame_per_run_in_wire_order(simulator, harnesses):
    frames, items = await run_batches(simulator, harnesses, [RESPONSE])
    assert frames == [
        ("LLMFullResponseStartFrame", None),
        ("TTSStartedFrame", None),
        ("LLMTextFrame", "Hello "),
        ("TTSTextFrame", "Hello "),
        ("audio", pcm(1) + pcm(2) + pcm(3)),
        ("LLMTextFrame", "there"),
        ("TTSTextFrame", "there"),
        ("audio", pcm(4)),
        ("audio", pcm(5) + pcm(6)),
        ("TTSStoppedFrame", None),
        ("LLMFullResponseEndFrame", None),
    ]
    # Truncation bookkeeping counts every byte against its own item.
    assert items == {"i1": 4 * 960, "i2": 2 * 960}


async def test_merging_changes_frame_count_only(simulator, harnesses):
    merged, merged_items = await run_batches(simulator, harnesses, [RESPONSE])
    single, single_items = await run_batches(
        simulator, harnesses, [[message] for message in RESPONSE]
    )
    assert len(single) > len(merged)
    assert merged_items == single_items

    def joined(frames: list[tuple[str, Any]], kind: str) -> Any:
        parts = [payload for name, payload in frames if name == kind]
        return b"".join(parts) if kind == "audio" else "".join(parts)

    for kind in ("audio", "LLMTextFrame", "TTSTextFrame"):
        assert joined(merged, kind) == joined(single, kind)
    control = [name for name, _ in merged if name not in ("audio", "LLMTextFrame", "TTSTextFrame")]
    assert control == [
        name for name, _ in single if name not in ("audio", "LLMTextFrame", "TTSTextFrame")
    ]


async def test_late_audio_of_an_interrupted_response_is_dropped_as_a_run(simulator, harnesses):
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await service.supervisor.receive(BatchedConnection([RESPONSE[:4]]))
    await harness.down.wait_for(TTSAudioRawFrame)
    await harness.send(BotStartedSpeakingFrame(), InterruptionFrame())
    await harness.down.wait_for(TTSStoppedFrame)
    before = len(harness.down.of(TTSAudioRawFrame))
    await service.supervisor.receive(BatchedConnection([RESPONSE[4:6]]))
    assert len(harness.down.of(TTSAudioRawFrame)) == before
    await harness.stop()
