"""Input audio, server VAD, transcription and reply audio over a real socket."""

from __future__ import annotations

import base64

import pytest
import yaml

from pipecat_realtime_openai.audio.g711 import pcm16_to_ulaw, ulaw_to_pcm16
from pipecat_realtime_openai.testing import (
    RealtimeSimulator,
    Reply,
    ScriptedResponder,
    TranscriptionFailure,
)
from pipecat_realtime_openai.testing.synth import MS_PER_CHAR
from tests.conftest import recorded_dir
from tests.testing.sim_client import SimClient, append_events, collapse_runs, silence, tone, types

TRANSCRIPTION = "conversation.item.input_audio_transcription."


def update(session: dict) -> dict:
    return {"type": "session.update", "session": {"type": "realtime", **session}}


async def speak_turn(client: SimClient, lead_ms=500, speech_ms=800, tail_ms=400) -> None:
    for event in append_events(silence(lead_ms) + tone(speech_ms) + silence(tail_ms)):
        await client.send(event)


async def test_server_vad_turn_has_real_order_ids_and_times():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await speak_turn(client)
            events = await client.recv_until("response.done")
    names = types(events)
    assert names[:6] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
    ]
    started, stopped, committed, added = events[:4]
    assert started["audio_start_ms"] == 500 - 300  # prefix padding included
    assert stopped["audio_end_ms"] == 500 + 800 + 200  # end of the 200 ms silence
    item_id = started["item_id"]
    assert stopped["item_id"] == committed["item_id"] == added["item"]["id"] == item_id
    assert committed["previous_item_id"] is None
    assert added["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    assert not any(name.startswith(TRANSCRIPTION) for name in names)  # not configured
    conn = sim.connections[0]
    assert conn.state.store.input_audio_ms[item_id] == 1500 - 200


async def test_vad_turn_order_matches_recording_apart_from_async_transcription():
    interactions = (recorded_dir("openai") / "audio_in_server_vad_turn.yaml").read_text()
    recorded = yaml.safe_load(interactions)["interactions"]
    expected = [i["data"]["type"] for i in recorded if i["direction"] == "received"][2:]
    reply = "Hello, Marcelo! Great to meet you. How can I help you today?"
    sim = RealtimeSimulator(responder=ScriptedResponder([Reply(text=reply)]))
    async with sim:
        sim.transcripts.put("Hello, my name is Marcelo.")
        async with await SimClient.open(sim) as client:
            sent = next(i["data"] for i in recorded if i["data"]["type"] == "session.update")
            await client.send(sent)
            await client.recv_until("session.updated")
            await speak_turn(client)
            events = await client.recv_until("response.done")
    names = types(events)

    reply_deltas = {"response.output_audio.delta", "response.output_audio_transcript.delta"}

    def without_transcription(seq):
        # Transcript and audio deltas interleave (differently on every real run): one block.
        kept = [n for n in seq if not n.startswith(TRANSCRIPTION)]
        return collapse_runs(["reply.delta" if n in reply_deltas else n for n in kept])

    assert without_transcription(names) == without_transcription(expected)
    # The transcript leads and interleaves with the audio, as recorded.
    reply_only = [n for n in names if n in reply_deltas]
    assert reply_only[0] == "response.output_audio_transcript.delta"
    first_audio_in_reply = reply_only.index("response.output_audio.delta")
    assert "response.output_audio_transcript.delta" in reply_only[first_audio_in_reply:]
    created = names.index("response.created")
    deltas = [i for i, n in enumerate(names) if n == TRANSCRIPTION + "delta"]
    completed = names.index(TRANSCRIPTION + "completed")
    first_audio = names.index("response.output_audio.delta")
    # As recorded: deltas after response.created, completed in the middle of the reply.
    assert deltas and min(deltas) > created
    assert first_audio < completed < names.index("response.output_audio.done")
    assert events[completed]["transcript"] == "Hello, my name is Marcelo."
    assert "".join(events[i]["delta"] for i in deltas) == "Hello, my name is Marcelo."


async def test_barge_in_cancels_active_response_with_turn_detected():
    long_text = "This is a long answer that keeps going for a good while. " * 4
    sim = RealtimeSimulator(responder=ScriptedResponder([Reply(text=long_text)]), pace="realtime")
    async with sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create"})
            before = await client.recv_until("response.output_audio.delta")
            await speak_turn(client, lead_ms=0, speech_ms=300, tail_ms=0)
            events = before + await client.recv_until("response.done")
    names = types(events)
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert names.index("input_audio_buffer.speech_started") < names.index("response.done")
    for closing in (
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert closing in names
    assert done["output"][0]["status"] == "incomplete"
    sent_bytes = sum(
        len(base64.b64decode(e["delta"]))
        for e in events
        if e["type"] == "response.output_audio.delta"
    )
    item_id = done["output"][0]["id"]
    generated = sim.connections[0].state.store.audio_ms[(item_id, 0)]
    assert generated == sent_bytes // 48
    assert generated < len(long_text) * MS_PER_CHAR


async def test_no_barge_in_when_interrupt_response_is_off():
    sim = RealtimeSimulator(responder=ScriptedResponder([Reply(text="Long " * 5)]), pace="realtime")
    async with sim:
        async with await SimClient.open(sim) as client:
            td = {"type": "server_vad", "interrupt_response": False, "create_response": False}
            await client.send(update({"audio": {"input": {"turn_detection": td}}}))
            await client.recv_until("session.updated")
            await client.send({"type": "response.create"})
            await client.recv_until("response.output_audio.delta")
            await speak_turn(client, lead_ms=0, speech_ms=300, tail_ms=0)
            events = await client.recv_until("response.done")
    assert "input_audio_buffer.speech_started" in types(events)
    assert events[-1]["response"]["status"] == "completed"


async def test_turn_detection_off_means_explicit_commits_only():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send(update({"audio": {"input": {"turn_detection": None}}}))
            await client.recv_until("session.updated")
            for event in append_events(tone(60)):
                await client.send(event)
            await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_c1"})
            (error,) = await client.recv_until("error")
            assert error["error"]["code"] == "input_audio_buffer_commit_empty"
            assert error["error"]["event_id"] == "evt_c1"
            for event in append_events(tone(60)):
                await client.send(event)
            await client.send({"type": "input_audio_buffer.commit"})
            events = await client.recv_until("conversation.item.done")
            assert types(events) == [
                "input_audio_buffer.committed",
                "conversation.item.added",
                "conversation.item.done",
            ]
            await client.send({"type": "input_audio_buffer.clear"})
            assert types(await client.recv_until("input_audio_buffer.cleared")) == [
                "input_audio_buffer.cleared"
            ]
        conn = sim.connections[0]
        assert conn.server_event_types.count("input_audio_buffer.speech_started") == 0
        assert conn.server_event_types.count("response.created") == 0
        assert conn.state.store.input_audio_ms[conn.items[0]["id"]] == 120


async def test_commit_of_99ms_is_empty_and_100ms_is_enough():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send(update({"audio": {"input": {"turn_detection": None}}}))
            await client.recv_until("session.updated")
            await client.send(append_events(b"\x00" * 48 * 99)[0])
            await client.send({"type": "input_audio_buffer.commit"})
            assert (await client.recv_until("error"))[0]["error"]["code"] == (
                "input_audio_buffer_commit_empty"
            )
            await client.send(append_events(b"\x00" * 48)[0])
            await client.send({"type": "input_audio_buffer.commit"})
            await client.recv_until("input_audio_buffer.committed")


async def test_g711_input_is_decoded_for_vad_with_8_bytes_per_ms():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            fmt = {"type": "audio/pcmu"}
            await client.send(
                update({"audio": {"input": {"format": fmt}, "output": {"format": fmt}}})
            )
            await client.recv_until("session.updated")
            pcm8k = silence(400, rate=8000) + tone(600, rate=8000) + silence(300, rate=8000)
            ulaw = pcm16_to_ulaw(pcm8k)
            for event in append_events(ulaw, chunk_bytes=160):
                await client.send(event)
            events = await client.recv_until("response.done")
    started = events[0]
    stopped = events[1]
    assert (started["audio_start_ms"], stopped["audio_end_ms"]) == (100, 1200)
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )
    assert events[-1]["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}
    # Real G.711: decodes to a loud signal, 8 bytes per ms.
    pcm = ulaw_to_pcm16(audio)
    assert len(pcm) == 2 * len(audio)
    assert (
        max(abs(int.from_bytes(pcm[i : i + 2], "little", signed=True)) for i in range(0, 4000, 2))
        > 1000
    )


async def test_semantic_vad_is_accepted_and_ends_turn_after_eagerness_silence():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            td = {"type": "semantic_vad", "eagerness": "high"}
            await client.send(update({"audio": {"input": {"turn_detection": td}}}))
            (updated,) = await client.recv_until("session.updated")
            assert updated["session"]["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
            await speak_turn(client, lead_ms=300, speech_ms=500, tail_ms=400)
            events = await client.recv_until("input_audio_buffer.speech_stopped")
    assert events[-1]["audio_end_ms"] == 300 + 500 + 250


async def test_create_response_false_commits_without_reply():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            td = {"type": "server_vad", "create_response": False}
            await client.send(update({"audio": {"input": {"turn_detection": td}}}))
            await client.recv_until("session.updated")
            await speak_turn(client)
            await client.recv_until("conversation.item.done")
            await client.send({"type": "response.create"})
            events = await client.recv_until("response.done")
        assert sim.connections[0].server_event_types.count("response.created") == 1
        assert types(events)[0] == "response.created"


@pytest.mark.parametrize("use_callback", [False, True])
async def test_transcription_failure_and_callback(use_callback):
    seen: list[int] = []
    async with RealtimeSimulator() as sim:
        if use_callback:

            def transcriber(audio: bytes):
                seen.append(len(audio))
                return TranscriptionFailure("could not hear")

            sim.transcripts.transcriber = transcriber
        else:
            sim.transcripts.fail("could not hear")
        async with await SimClient.open(sim) as client:
            await client.send(
                update({"audio": {"input": {"transcription": {"model": "whisper-1"}}}})
            )
            await client.recv_until("session.updated")
            await speak_turn(client)
            events = await client.recv_until("response.done")
    names = types(events)
    failed = events[names.index(TRANSCRIPTION + "failed")]
    assert failed["error"]["message"] == "could not hear"
    assert TRANSCRIPTION + "delta" not in names
    if use_callback:
        assert seen == [(1500 - 200) * 48]


async def test_transcript_is_stored_on_the_item_and_echoed_by_default_responder():
    async with RealtimeSimulator() as sim:
        sim.transcripts.put("book a table")
        async with await SimClient.open(sim) as client:
            await client.send(
                update({"audio": {"input": {"transcription": {"model": "whisper-1"}}}})
            )
            await client.recv_until("session.updated")
            await speak_turn(client)
            events = await client.recv_until("response.done")
            item_id = events[0]["item_id"]
            await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
            (retrieved,) = await client.recv_until("conversation.item.retrieved")
    assert retrieved["item"]["content"][0]["transcript"] == "book a table"
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")
    assert transcript["transcript"] == "You said: book a table"


async def test_reply_audio_length_follows_text_and_is_tracked_for_truncation():
    text = "Twelve chars"
    async with RealtimeSimulator(responder=ScriptedResponder([Reply(text=text)])) as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create"})
            events = await client.recv_until("response.done")
    audio = b"".join(
        base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta"
    )
    assert len(audio) == len(text) * MS_PER_CHAR * 48
    item_id = events[-1]["response"]["output"][0]["id"]
    assert sim.connections[0].state.store.audio_ms[(item_id, 0)] == len(text) * MS_PER_CHAR
    transcript = "".join(
        e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"
    )
    assert transcript == text
