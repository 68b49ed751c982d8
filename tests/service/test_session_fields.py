"""GA session fields a production bot sets: they reach the server as given, at start and
at runtime, and come back in the session the server confirms; rate limits reach a handler."""

from __future__ import annotations

import copy
from typing import Any

from pipecat.frames.frames import LLMContextFrame, LLMFullResponseEndFrame, LLMUpdateSettingsFrame
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai import events
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import RealtimeSimulator, Reply, ScriptedResponder
from tests.service.conftest import make_service, wait_until

Settings = OpenAIRealtimeLLMService.Settings

FIELDS: dict[str, Any] = {
    "parallel_tool_calls": False,
    "truncation": {
        "type": "retention_ratio",
        "retention_ratio": 0.6,
        "token_limits": {"post_instructions": 8000},
    },
    "include": ["item.input_audio_transcription.logprobs"],
    "tracing": {"workflow_name": "support-bot", "group_id": "g1", "metadata": {"site": "eu"}},
    "prompt": {"id": "pmpt_123", "version": "2", "variables": {"city": "Paris"}},
    "reasoning": {"effort": "low"},
    "audio": {
        "input": {
            "noise_reduction": {"type": "far_field"},
            "transcription": {
                "model": "gpt-realtime-whisper",
                "language": "fr",
            },
            "turn_detection": {"type": "server_vad", "idle_timeout_ms": 6000},
        },
        "output": {"voice": {"id": "voice_1234"}},
    },
}


def _within(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Paths of ``expected`` that ``actual`` lacks or holds otherwise."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [path or "."]
        return [
            miss
            for key, value in expected.items()
            for miss in _within(value, actual.get(key), f"{path}.{key}")
        ]
    return [] if expected == actual else [path]


async def test_every_field_reaches_the_server_and_is_confirmed(simulator, harnesses):
    properties = events.SessionProperties.model_validate(copy.deepcopy(FIELDS))
    service = make_service(simulator, settings=Settings(session_properties=properties))
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    updated = await conn.wait_for_server_event("session.updated")
    await harness.stop()
    [update] = [e["session"] for e in conn.client_events if e["type"] == "session.update"][:1]
    assert _within(FIELDS, update) == []
    assert _within(FIELDS, updated["session"]) == []


async def test_runtime_changes_send_only_what_changed(simulator, harnesses):
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    change = {
        "parallel_tool_calls": False,
        "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
        "audio": {"input": {"noise_reduction": {"type": "near_field"}}},
    }
    delta = Settings(session_properties=events.SessionProperties.model_validate(change))
    await harness.send(LLMUpdateSettingsFrame(delta=delta))
    await conn.wait_for_server_event("session.updated", count=2)
    await harness.stop()
    second = [e["session"] for e in conn.client_events if e["type"] == "session.update"][1]
    assert second == {"type": "realtime", **change}
    assert _within(change, conn.session) == []
    # The rest of the session stays as it was.
    assert conn.session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}


async def test_rate_limits_reach_an_event_handler(harnesses):
    async with RealtimeSimulator(rate_limits=True) as sim:
        sim.responder = ScriptedResponder([Reply(text="Hello")])
        service = make_service(sim)
        seen: list[list[dict]] = []

        @service.event_handler("on_rate_limits_updated")
        async def on_rate_limits_updated(service, rate_limits):
            seen.append(rate_limits)

        harness = harnesses(service)
        await harness.start()
        context = LLMContext(messages=[{"role": "user", "content": "Hi"}])
        await harness.send(LLMContextFrame(context=context))
        await harness.down.wait_for(LLMFullResponseEndFrame)
        conn = sim.connections[0]
        await conn.wait_for_server_event("rate_limits.updated")
        await wait_until(lambda: bool(seen))
        await harness.stop()
    sent = next(e for e in conn.server_events if e["type"] == "rate_limits.updated")
    assert seen[0] == sent["rate_limits"]
    assert {limit["name"] for limit in seen[0]} >= {"tokens"}
