"""Nothing secret reaches a log line or an ErrorFrame, whatever the session goes through.

A whole session runs with every log record captured at TRACE level: connect, a spoken
turn with recognisable audio, a tool call, a recoverable server error and a malformed
frame, a dropped connection with the reconnect and restore that follow, another spoken
turn, and finally a reconnect refused with HTTP 401 (a fatal error). The API key and
every audio payload sent or received (as base64, and as raw bytes) must be absent from
the log and from every ErrorFrame.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np
from pipecat.frames.frames import (
    ErrorFrame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    LLMMessagesAppendFrame,
)
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai import events
from pipecat_realtime_openai.core.reconnect import ReconnectOptions
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import (
    FunctionCall,
    RealtimeSimulator,
    Reply,
    ScriptedResponder,
    SimulatedConnection,
)
from pipecat_realtime_openai.testing.server_events import error_event
from tests.reliability.conftest import (
    Harness,
    assert_client_events_official,
    frames_of,
    silence,
)

API_KEY = "sk-proj-Zr7QeVt3LmX9wPa2SECRETkey4Hn8Ud6Kc1Jb5Fg0Ys"
# Looks for runs this long: long enough never to occur by chance in a log line.
PROBE_CHARS = 24


def distinctive_speech(duration_ms: int, seed: int) -> bytes:
    """Loud pseudo-random noise: speech to the VAD, unmistakable as bytes."""
    rng = np.random.default_rng(seed)
    samples = rng.integers(-12_000, 12_000, size=24 * duration_ms, dtype=np.int16)
    return samples.astype("<i2").tobytes()


def spoken_turn(seed: int) -> list[InputAudioRawFrame]:
    audio = distinctive_speech(400, seed) + silence(600)
    return [
        InputAudioRawFrame(audio=chunk, sample_rate=24000, num_channels=1)
        for chunk in frames_of(audio, 24000)
    ]


def probes(text: str) -> Iterator[str]:
    """Slices of a payload to look for: start, middle and end."""
    if len(text) < PROBE_CHARS:
        return
    for start in (0, (len(text) - PROBE_CHARS) // 2, len(text) - PROBE_CHARS):
        piece = text[start : start + PROBE_CHARS]
        if len(set(piece)) > 4:  # "AAAA..." (silence) would prove nothing
            yield piece


def audio_payloads(connections: list[SimulatedConnection]) -> list[str]:
    """Base64 audio of every append, audio item and output delta that crossed the wire."""
    found = []
    for conn in connections:
        for event in conn.client_events:
            if not isinstance(event, dict):
                continue
            if event.get("type") == "input_audio_buffer.append":
                found.append(event["audio"])
            item = event.get("item") if event.get("type") == "conversation.item.create" else None
            for part in (item or {}).get("content") or []:
                if part.get("type") == "input_audio" and part.get("audio"):
                    found.append(part["audio"])
        for event in conn.server_events:
            if event.get("type") == "response.output_audio.delta":
                found.append(event["delta"])
    return found


def raw_forms(b64: str) -> Iterator[str]:
    """The payload as a log would show raw bytes: repr escapes and hex."""
    raw = base64.b64decode(b64)
    middle = raw[len(raw) // 2 : len(raw) // 2 + 12]
    if len(middle) == 12 and len(set(middle)) > 4:
        yield repr(middle)[2:-1]
        yield middle.hex()


async def weather(params: FunctionCallParams) -> None:
    await params.result_callback({"sky": "clear", "city": params.arguments.get("city")})


async def test_no_key_and_no_audio_in_logs_or_error_frames_across_a_whole_session(trace_logs):
    responder = ScriptedResponder(
        [
            Reply(text="I hear you loud and clear."),
            Reply(function_calls=[FunctionCall("get_weather", {"city": "Lima"})]),
            Reply(text="Clear skies in Lima."),
        ]
    )
    settings = OpenAIRealtimeLLMService.Settings(
        session_properties=events.SessionProperties(
            audio=events.AudioConfiguration(
                input=events.AudioInput(transcription=events.InputAudioTranscription())
            )
        )
    )
    async with RealtimeSimulator(api_key=API_KEY, responder=responder) as sim:
        sim.transcripts.put("Can you hear me?", "And now?")
        service = OpenAIRealtimeLLMService(
            api_key=API_KEY,
            base_url=sim.base_url,
            settings=settings,
            reconnect=ReconnectOptions(max_retries=2, initial_delay=0.05, jitter=0),
        )
        service.register_function("get_weather", weather)
        harness = Harness(service)
        await harness.start()
        try:
            first = await sim.wait_for_connection()
            await first.wait_for_server_event("session.updated")
            await harness.send(*spoken_turn(seed=1))
            await harness.down.wait_for(LLMFullResponseEndFrame)
            ask = LLMMessagesAppendFrame(
                [{"role": "user", "content": "Weather in Lima?"}], run_llm=True
            )
            await harness.send(ask)
            await harness.down.wait_for(LLMFullResponseEndFrame, count=3)
            first.send_event(
                error_event("server_error", "Upstream hiccup.", error_type="server_error")
            )
            first.send_malformed()
            await harness.up.wait_for(ErrorFrame)
            # Drop without a close frame: reconnect, restore (audio turns included).
            first.drop()
            second = await sim.wait_for_connection(count=2)
            await second.wait_for_server_event("session.updated")
            await harness.send(*spoken_turn(seed=2))
            await second.wait_for_server_event("response.done")
            # The next outage ends with a refusal nobody can retry past.
            sim.faults.refuse_connections = 5
            sim.faults.refuse_status = 401
            second.drop()
            fatal = await harness.up.wait_for(ErrorFrame, count=2)
            await harness.stop()
        finally:
            await harness.abort()
        assert_client_events_official(sim)
        connections = list(sim.connections)

    assert fatal.fatal, fatal.error
    errors = [frame.error for frame in harness.up.of(ErrorFrame)]
    payloads = audio_payloads(connections)
    assert len(payloads) > 20, "the session moved audio both ways"
    assert any(e["type"] == "input_audio_buffer.append" for e in connections[1].client_events)

    text = trace_logs.text
    assert len(trace_logs.lines) > 100, "trace logging was captured"
    assert API_KEY not in text
    assert API_KEY[-PROBE_CHARS:] not in text
    for error in errors:
        assert API_KEY not in error and API_KEY[-PROBE_CHARS:] not in error
    leaked = [
        probe
        for payload in payloads
        for probe in [*probes(payload), *raw_forms(payload)]
        if probe in text or any(probe in error for error in errors)
    ]
    assert not leaked, f"audio payload found in the log: {leaked[:3]}"
