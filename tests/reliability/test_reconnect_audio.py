"""User audio during an outage: held, sent after the restore, bounded with one warning."""

from __future__ import annotations

import base64
import dataclasses
import re

from loguru import logger
from pipecat.frames.frames import (
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)

from pipecat_realtime_openai import events as realtime
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import Reply, ScriptedResponder, SimulatedConnection
from tests.reliability.test_reconnect_support import (
    FAST,
    WarningCapture,
    assert_no_fatal_error,
    assert_restored,
    audio_frames,
    first_context,
    said,
    spoken_turn,
    started,
)
from tests.service.conftest import harnesses, silence, simulator, tone

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


MANUAL = OpenAIRealtimeLLMService.Settings(
    session_properties=realtime.SessionProperties(
        audio=realtime.AudioConfiguration(input=realtime.AudioInput(turn_detection=False))
    )
)


async def test_manual_turn_spoken_during_the_outage_is_answered_after_the_restore(
    simulator, harnesses
):
    simulator.responder = ScriptedResponder([Reply(text="Hello."), Reply(text="Heard you.")])
    _, harness, first, events = await started(simulator, harnesses, settings=MANUAL)
    await harness.send(first_context("Hi"))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await first.wait_for_server_event("response.done")
    simulator.faults.refuse_connections = 10**6
    first.drop()
    await events.wait(reconnecting=2)
    # A whole turn while disconnected: its audio, its commit and its response wait.
    await harness.send(UserStartedSpeakingFrame(), *audio_frames(tone(500)))
    await harness.send(UserStoppedSpeakingFrame())
    await harness.down.wait_for(UserStoppedSpeakingFrame)
    simulator.faults.refuse_connections = 0
    await events.wait(reconnected=1)
    second = simulator.connections[-1]
    await second.wait_for_server_event("response.done")
    await harness.stop()

    assert_restored(first, second)
    types = [t for t in second.client_event_types if t != "session.update"]
    first_append = types.index("input_audio_buffer.append")
    assert set(types[:first_append]) == {"conversation.item.create"}, "restore first"
    assert types[first_append:].count("input_audio_buffer.commit") == 1
    assert types[-2:] == ["input_audio_buffer.commit", "response.create"], types[-3:]
    assert appended_bytes(second) == 500 * BYTES_PER_MS
    user_audio = [i for i in second.items if i["content"][0]["type"] == "input_audio"]
    assert len(user_audio) == 1 and second.items[-1]["role"] == "assistant"
    assert_no_fatal_error(harness)


def user_audio_items(conn: SimulatedConnection) -> dict[str, bytes]:
    """The audio the simulator holds for each user audio item, by item id."""
    return {
        item["id"]: conn.state.store.input_audio.get(item["id"], b"")
        for item in conn.items
        if item.get("role") == "user" and item["content"][0]["type"] == "input_audio"
    }


async def spoken_turns_then_a_drop(simulator, harnesses, turns: int, **kwargs):
    """Answered spoken turns, a dropped connection, a typed turn on the new one.

    Returns:
        The harness (stopped), the first connection and the one after the drop.
    """
    texts = [f"Answer {n}." for n in range(turns)]
    simulator.responder = ScriptedResponder([Reply(text=t) for t in [*texts, "Still here."]])
    _, harness, first, events = await started(simulator, harnesses, **kwargs)
    for turn in range(1, turns + 1):
        await harness.send(*spoken_turn())
        await harness.down.wait_for(LLMFullResponseEndFrame, count=turn)
    await first.wait_for_server_event("response.done", count=turns)
    first.drop()
    await events.wait(reconnected=1)
    second = simulator.connections[-1]
    await harness.send(said("Can you hear me?"))
    await second.wait_for_server_event("response.done")
    await harness.stop()
    return harness, first, second


async def test_spoken_turns_without_transcripts_come_back_as_their_audio(simulator, harnesses):
    # Input transcription is off (the default): the text of a spoken turn is never known.
    harness, first, second = await spoken_turns_then_a_drop(simulator, harnesses, 2)

    before, after = user_audio_items(first), user_audio_items(second)
    assert len(before) == 2 and all(before.values())
    assert after == before, "each spoken turn restored with its own audio, under its id"
    assert_restored(first, second)
    order = [i["id"] for i in second.items][: len(first.items)]
    assert order == [i["id"] for i in first.items]
    assert_no_fatal_error(harness)


async def test_only_the_newest_untranscribed_turns_within_the_budget_come_back(
    simulator, harnesses
):
    # Two turns' audio does not fit in 1.5 s; the newest one does: the older turns have
    # neither audio nor text left, so the restore leaves them out.
    reconnect = dataclasses.replace(FAST, max_untranscribed_audio_secs=1.5)
    told: list[str] = []
    sink = logger.add(lambda m: told.append(m.record["message"]), level="INFO")
    try:
        harness, first, second = await spoken_turns_then_a_drop(
            simulator, harnesses, 3, reconnect=reconnect
        )
    finally:
        logger.remove(sink)

    before, after = user_audio_items(first), user_audio_items(second)
    *older, newer = before
    budget = 1.5 * 1000 * BYTES_PER_MS
    assert len(before[newer]) <= budget < len(before[older[-1]]) + len(before[newer])
    assert after == {newer: before[newer]}
    assert not set(older) & {item["id"] for item in second.items}
    # Two turns lost their audio; the log says so once, naming the option.
    budget_lines = [line for line in told if "max_untranscribed_audio_secs (1.5 s)" in line]
    assert len(budget_lines) == 1, told
    assert_no_fatal_error(harness)


async def test_turn_committed_but_not_yet_answered_is_restored_and_answered(simulator, harnesses):
    simulator.responder = ScriptedResponder([Reply(text="Answered once.")])
    _, harness, first, events = await started(simulator, harnesses)
    # Server VAD commits the turn; the connection dies before the reply starts.
    first.drop_after_event("conversation.item.done")
    await harness.send(*spoken_turn())
    await events.wait(reconnected=1)
    second = simulator.connections[-1]
    await second.wait_for_server_event("response.done")
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()

    assert user_audio_items(second) == user_audio_items(first)
    assert second.client_event_types.count("response.create") == 1, "the turn is answered"
    assert [i["role"] for i in second.items] == ["user", "assistant"]
    assert_no_fatal_error(harness)
