"""Seeding a history, item for item, as real sessions of every provider did.

Each recording seeds a short history (three messages) with one
``conversation.item.create`` per message. The service is given that history as its
first context and must send the same items, in the same order (ids aside: it names
the items it creates), before its one ``response.create``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pipecat.frames.frames import LLMContextFrame, LLMFullResponseEndFrame

from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing.recordings import load_recording, sent_events
from pipecat_realtime_openai.testing.replay import RecordingReplayServer
from tests.conftest import RECORDED_DIR
from tests.service.test_replays import replay_context

SEEDING = [
    *(RECORDED_DIR / p / "message_history_seeding.yaml" for p in ("openai", "azure", "xai")),
    *sorted((RECORDED_DIR / "parity").glob("history_seeding_parity--*.yaml")),
]


AVAILABLE = {path for path in SEEDING if path.exists()}


def recorded_items(recording) -> list[dict]:
    return [
        e["item"] for e in sent_events(recording) if e.get("type") == "conversation.item.create"
    ]


@pytest.mark.parametrize("path", SEEDING, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_history_is_seeded_item_for_item(path: Path, harnesses):
    if path not in AVAILABLE:
        pytest.skip(
            f"recorded sessions not found at {RECORDED_DIR} (../shared is only beside CI clones)"
        )
    recording = load_recording(path)
    async with RecordingReplayServer(recording) as server:
        service = OpenAIRealtimeLLMService(api_key="sk-test", base_url=server.base_url)
        harness = harnesses(service)
        await harness.start()
        await harness.send(LLMContextFrame(context=replay_context(recording)))
        await server.wait_until_done(timeout=10)
        await harness.down.wait_for(LLMFullResponseEndFrame)
        await harness.stop()
    sent = [
        e
        for e in server.client_events
        if e.get("type") in ("conversation.item.create", "response.create")
    ]
    ours = [{k: v for k, v in e["item"].items() if k != "id"} for e in sent if "item" in e]
    assert ours == recorded_items(recording)
    assert [e["type"] for e in sent][-1] == "response.create", "the response follows the history"
