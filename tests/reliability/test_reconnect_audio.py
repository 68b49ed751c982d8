"""User audio during an outage: held, sent after the restore, bounded with one warning."""

from __future__ import annotations

import base64
import re

from pipecat.frames.frames import InputAudioRawFrame, LLMFullResponseEndFrame

from pipecat_realtime_openai.testing import SimulatedConnection
from tests.reliability.test_reconnect_support import (
    WarningCapture,
    assert_no_fatal_error,
    assert_restored,
    audio_frames,
    first_context,
    started,
)
from tests.service.conftest import harnesses, silence, simulator

__all__ = ["harnesses", "simulator"]

BYTES_PER_MS = 48  # pcm16 mono at 24 kHz


def appended_bytes(conn: SimulatedConnection) -> int:
    return sum(
        len(base64.b64decode(e["audio"]))
        for e in conn.client_events
        if e.get("type") == "input_audio_buffer.append"
    )


async def outage_with_audio(simulator, harnesses, audio_ms: int, **kwargs):
    """Talk, drop the connection, send audio while it is down, then let it come back."""
    _service, harness, first, events = await started(simulator, harnesses, **kwargs)
    await harness.send(first_context("Remember this."))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await first.wait_for_server_event("response.done")
    simulator.faults.refuse_connections = 10**6  # hold the outage open
    first.drop()
    await events.wait(reconnecting=2)
    frames = audio_frames(silence(audio_ms))
    await harness.send(*frames)
    # The service passes each frame on once it has handled it.
    await harness.down.wait_for(InputAudioRawFrame, count=len(frames))
    simulator.faults.refuse_connections = 0
    await events.wait(reconnected=1)
    second = simulator.connections[-1]
    return harness, first, second


async def test_audio_sent_while_disconnected_arrives_after_the_restore(simulator, harnesses):
    harness, first, second = await outage_with_audio(simulator, harnesses, 1000)
    await harness.stop()  # flushes what the batcher still holds

    assert_restored(first, second)
    assert appended_bytes(second) == 1000 * BYTES_PER_MS
    types = second.client_event_types
    last_create = max(i for i, t in enumerate(types) if t == "conversation.item.create")
    assert types.index("input_audio_buffer.append") > last_create, "audio follows the restore"
    assert_no_fatal_error(harness)


async def test_audio_beyond_the_bound_is_dropped_with_one_warning(simulator, harnesses):
    with WarningCapture() as warnings:
        harness, _first, second = await outage_with_audio(
            simulator, harnesses, 1000, max_pending_audio_secs=0.3
        )
        await harness.stop()

    kept_ms = appended_bytes(second) / BYTES_PER_MS
    assert 300 - 40 <= kept_ms <= 300 + 40, "the newest 0.3 s, in whole batches"
    dropped = [m for m in warnings.messages if "dropped the oldest" in m]
    assert len(dropped) == 1, warnings.messages
    seconds = float(re.search(r"dropped the oldest ([0-9.]+) s", dropped[0]).group(1))
    assert abs(seconds + kept_ms / 1000 - 1.0) < 0.05, "the warning says how much was dropped"
    assert_no_fatal_error(harness)
