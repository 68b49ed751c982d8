"""Diarizing transcription: each speaker's segment is an interim frame with its speaker,
and the final transcript of the item carries every segment; logprobs give a confidence."""

from __future__ import annotations

import math

from pipecat.frames.frames import (
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    LLMFullResponseEndFrame,
    TranscriptionFrame,
)

from pipecat_realtime_openai import OpenAIRealtimeLLMService, events
from pipecat_realtime_openai.protocol.session import DEFAULT_TRANSCRIPTION_MODEL
from pipecat_realtime_openai.testing.transcription import TOKEN_LOGPROB
from tests.service.conftest import frames_of, make_service, silence, tone

DIARIZE = "gpt-4o-transcribe-diarize"


def _speech(rate: int = 24000) -> list[InputAudioRawFrame]:
    audio = tone(800, rate) + silence(700, rate)
    return [
        InputAudioRawFrame(audio=a, sample_rate=rate, num_channels=1)
        for a in frames_of(audio, rate)
    ]


def _transcribed(model: str) -> OpenAIRealtimeLLMService.Settings:
    transcription = events.InputAudioTranscription(model=model)
    return OpenAIRealtimeLLMService.Settings(
        session_properties=events.SessionProperties(
            audio=events.AudioConfiguration(input=events.AudioInput(transcription=transcription))
        )
    )


async def _spoken_turn(simulator, harnesses, settings, transcript, *, reply=False):
    """One user turn said to the bot; returns the harness and the connection."""
    simulator.transcripts.put(transcript)
    harness = harnesses(make_service(simulator, settings=settings))
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await harness.send(*_speech())
    await harness.up.wait_for(TranscriptionFrame)
    if reply:
        await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    return harness, conn


async def test_segments_come_with_their_speakers(simulator, harnesses):
    harness, conn = await _spoken_turn(
        simulator,
        harnesses,
        _transcribed(DIARIZE),
        "A: Is the shop open today? B: Until six, yes.",
        reply=True,
    )
    segments = [e for e in conn.server_events if e["type"].endswith("transcription.segment")]
    assert [(s["speaker"], s["text"]) for s in segments] == [
        ("A", "Is the shop open today?"),
        ("B", "Until six, yes."),
    ]
    interims = harness.up.of(InterimTranscriptionFrame)
    assert [(f.metadata.get("speaker"), f.text) for f in interims] == [
        ("A", "Is the shop open today?"),
        ("B", "Until six, yes."),
    ]
    [final] = harness.up.of(TranscriptionFrame)
    assert final.text == "Is the shop open today? Until six, yes."
    assert final.metadata["speakers"] == ["A", "B"]
    spans = [(s["speaker"], s["start"], s["end"]) for s in final.metadata["segments"]]
    assert spans == [(s["speaker"], s["start"], s["end"]) for s in segments]
    assert spans[0][1] == 0.0 and spans[0][2] <= spans[1][1] < spans[1][2]


async def test_without_diarization_the_final_carries_no_speakers(simulator, harnesses):
    settings = _transcribed(DEFAULT_TRANSCRIPTION_MODEL)
    harness, _ = await _spoken_turn(simulator, harnesses, settings, "is the shop open")
    [final] = harness.up.of(TranscriptionFrame)
    assert final.text == "is the shop open"
    assert "speakers" not in final.metadata


async def test_included_logprobs_give_the_final_transcript_a_confidence(simulator, harnesses):
    settings = _transcribed(DEFAULT_TRANSCRIPTION_MODEL)
    settings.session_properties.include = ["item.input_audio_transcription.logprobs"]
    harness, conn = await _spoken_turn(simulator, harnesses, settings, "fifteen or fifty")
    [final] = harness.up.of(TranscriptionFrame)
    completed = next(e for e in conn.server_events if e["type"].endswith("transcription.completed"))
    assert completed["logprobs"], "the simulator sent logprobs because the session asked"
    assert math.isclose(final.metadata["confidence"], math.exp(TOKEN_LOGPROB))
