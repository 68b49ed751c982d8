"""A flood of garbage from the server never kills the session or leaks into the log.

Hypothesis draws floods of bad frames: invalid JSON, JSON that is not an object,
objects without a (string) ``type``, known event types with fields of the wrong type,
huge strings, unknown event types, and binary frames. The simulator injects them in
the middle of a reply that is streaming at real time. Afterwards the reply finishes,
the next turn is answered, no ``ErrorFrame`` was pushed, every bad frame was logged
exactly once, and no log line carries a frame's content.
"""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipecat.frames.frames import (
    ErrorFrame,
    LLMFullResponseEndFrame,
    LLMMessagesAppendFrame,
    TTSAudioRawFrame,
)
from pydantic_core import from_json

from pipecat_realtime_openai.protocol.parse import MalformedEvent, parse_server_event
from pipecat_realtime_openai.testing import RealtimeSimulator, Reply, ScriptedResponder
from tests.reliability.conftest import (
    Harness,
    LogCapture,
    assert_client_events_official,
    make_service,
)

# Put in every bad frame's content; it must never reach a log line.
TOKEN = "QxFLOODzz"
MALFORMED_LOG = "skipping malformed server event"
UNKNOWN_PREFIX = "flood."
LONGEST_LOG_LINE = 2_000

payload = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40).map(
    lambda text: TOKEN + text + TOKEN
)
huge = st.integers(20_000, 400_000).map(lambda n: TOKEN * (n // len(TOKEN)))

bad_json = st.one_of(
    payload.map(lambda t: '{"type": "response.output_audio.delta", "delta": "' + t),
    st.tuples(st.sampled_from(["{", "}{", '{"type":', "[", "nul", '{"a":1,}', "'x'"]), payload).map(
        "".join
    ),
)
json_not_object = st.one_of(
    st.lists(st.one_of(st.integers(), payload), max_size=4).map(json.dumps),
    payload.map(json.dumps),
    st.sampled_from(["1", "true", "null", "3.5"]).map(lambda v: v + " "),
)
missing_type = st.dictionaries(
    st.sampled_from(["event_id", "delta", "response", "item", "Type"]), payload, max_size=3
).map(json.dumps)
non_string_type = st.tuples(
    st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.none(), st.booleans()),
    payload,
).map(lambda pair: json.dumps({"type": pair[0], "note": pair[1]}))

WRONG_FIELDS: list[tuple[str, str]] = [
    ("response.output_audio.delta", "delta"),
    ("response.output_audio.delta", "response_id"),
    ("response.output_audio_transcript.delta", "delta"),
    ("response.created", "response"),
    ("response.done", "response"),
    ("session.updated", "session"),
    ("session.created", "session"),
    ("conversation.item.added", "item"),
    ("conversation.item.done", "item"),
    ("error", "error"),
    ("input_audio_buffer.speech_started", "audio_start_ms"),
    ("response.function_call_arguments.done", "arguments"),
    ("response.output_item.added", "item"),
]
wrong_value = st.one_of(
    st.lists(payload, min_size=1, max_size=2),
    st.dictionaries(st.just("x"), payload, min_size=1, max_size=1),
    st.floats(allow_nan=False, allow_infinity=False),
    payload,
)
known_type_wrong_field = st.tuples(st.sampled_from(WRONG_FIELDS), wrong_value).map(
    lambda pair: json.dumps({"type": pair[0][0], pair[0][1]: pair[1], "event_id": "event_x"})
)
huge_strings = st.one_of(
    huge.map(lambda h: json.dumps({"type": "response.done", "response": h})),
    huge.map(lambda h: '{"type": "response.output_audio.delta", "delta": "' + h),
    huge.map(lambda h: json.dumps({"type": UNKNOWN_PREFIX + "blob", "blob": h})),
)
unknown_type = st.tuples(
    st.from_regex(r"[a-z]{1,10}(\.[a-z_]{1,10}){0,2}", fullmatch=True), payload
)
unknown_event = unknown_type.map(
    lambda pair: json.dumps({"type": UNKNOWN_PREFIX + pair[0], "event_id": "e", "note": pair[1]})
)


def not_json(data: bytes) -> bool:
    try:
        from_json(data)
    except ValueError:
        return True
    return False


binary = st.binary(min_size=1, max_size=3_000).map(lambda b: TOKEN.encode() + b).filter(not_json)


def is_garbage(frame: str | bytes) -> bool:
    """Malformed, or of a type nobody knows (lax coercion can make a frame valid)."""
    parsed = parse_server_event(frame)
    return isinstance(parsed, MalformedEvent) or getattr(parsed, "type", "").startswith(
        UNKNOWN_PREFIX
    )


bad_frame = st.one_of(
    bad_json,
    json_not_object,
    missing_type,
    non_string_type,
    known_type_wrong_field,
    huge_strings,
    unknown_event,
    binary,
).filter(is_garbage)


def expected_unknown(frame: str | bytes) -> bool:
    parsed = parse_server_event(frame)
    return not isinstance(parsed, MalformedEvent)


async def session_with_flood(frames: list[str | bytes]) -> LogCapture:
    """Run a session with ``frames`` injected mid-reply; check it lives on; return its log."""
    responder = ScriptedResponder([Reply(text="Let me see now."), Reply(text="Yes")])
    logs = LogCapture()
    async with RealtimeSimulator(responder=responder, pace="realtime") as sim:
        service = make_service(sim)
        harness = Harness(service)
        logs.start()
        try:
            await harness.start()
            conn = await sim.wait_for_connection()
            await conn.wait_for_server_event("session.updated")
            ask = LLMMessagesAppendFrame([{"role": "user", "content": "Hm?"}], run_llm=True)
            await harness.send(ask)
            await conn.wait_for_server_event("response.output_audio.delta")
            # In the middle of the reply: the flood, between the reply's own events.
            for index, frame in enumerate(frames):
                if isinstance(frame, bytes):
                    await conn.websocket.send(frame)
                else:
                    conn.send_raw(frame)
                if index % 4 == 3:
                    await asyncio.sleep(0.005)
            await harness.down.wait_for(LLMFullResponseEndFrame)
            audio_before = len(harness.down.of(TTSAudioRawFrame))
            await harness.send(
                LLMMessagesAppendFrame([{"role": "user", "content": "Ok?"}], run_llm=True)
            )
            await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
            await harness.stop()
        finally:
            logs.stop()
        assert_client_events_official(sim)

    assert not harness.up.of(ErrorFrame), [f.error for f in harness.up.of(ErrorFrame)]
    assert len(harness.down.of(TTSAudioRawFrame)) > audio_before, "the next turn was answered"
    assert len(sim.connections) == 1, "garbage must not cost the connection"
    return logs


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(frames=st.lists(bad_frame, min_size=10, max_size=40))
async def test_flood_of_bad_frames_is_skipped_logged_once_and_never_leaks(frames):
    logs = await session_with_flood(frames)
    malformed = [f for f in frames if not expected_unknown(f)]
    unknown = [f for f in frames if expected_unknown(f)]
    assert len(logs.containing(MALFORMED_LOG)) == len(malformed)
    # Unknown events are noted once each, at trace level.
    assert len(logs.containing(UNKNOWN_PREFIX)) == len(unknown)
    leaking = [line[:120] for line in logs.lines if TOKEN in line]
    assert not leaking, f"frame content reached the log: {leaking}"
    longest = max(len(line) for line in logs.lines)
    assert longest <= LONGEST_LOG_LINE, f"a log line of {longest} chars"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=st.one_of(
        bad_json,
        json_not_object,
        missing_type,
        non_string_type,
        huge_strings,
        unknown_event,
        binary,
    )
)
def test_every_flood_category_is_garbage_to_the_parser(frame):
    # Guards the strategies: these categories must yield frames the flood test counts
    # as bad without filtering, or its counts would test less than they claim.
    assert is_garbage(frame)


async def test_an_unknown_event_with_a_huge_type_name_is_logged_briefly():
    # The type name is server-controlled content like any other field: 180 kB of it
    # must not become one log line.
    huge_type = UNKNOWN_PREFIX + TOKEN * 20_000
    logs = await session_with_flood([json.dumps({"type": huge_type, "event_id": "e"})])
    longest = max(len(line) for line in logs.lines)
    assert longest <= LONGEST_LOG_LINE, f"a log line of {longest} chars"
