"""Robustness: bad frames, the error policy, session expiry, failed responses, retrieval."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from pipecat.frames.frames import (
    ErrorFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.utils.errors import ErrorCategory

from pipecat_realtime_openai.testing import InjectedError, RealtimeSimulator
from pipecat_realtime_openai.testing.server_events import error_event, make_event
from tests.service.conftest import assert_client_events_official, make_service


def hello() -> LLMContextFrame:
    return LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "Hello"}]))


async def started(simulator, harnesses, **kwargs):
    service = make_service(simulator, **kwargs)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    return service, harness, conn


async def test_malformed_and_unknown_frames_are_skipped(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses)
    conn.send_malformed()
    conn.send_unknown_event()
    conn.send_raw("[1, 2, 3]")
    await harness.send(hello())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    assert not harness.up.of(ErrorFrame)


async def test_recoverable_error_is_reported_and_session_continues(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses)
    conn.send_event(error_event("server_error", "Something broke.", error_type="server_error"))
    error = await harness.up.wait_for(ErrorFrame)
    await harness.send(hello())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    assert not error.fatal and "Something broke." in error.error
    assert len(harness.up.of(ErrorFrame)) == 1


async def test_expected_races_are_ignored(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses)
    conn.send_event(error_event("response_cancel_not_active", "No active response."))
    await harness.send(hello())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    assert not harness.up.of(ErrorFrame)


async def test_invalid_api_key_gives_one_fatal_error(harnesses):
    async with RealtimeSimulator(api_key="sk-right") as sim:
        service = make_service(sim)  # uses "sk-test"
        harness = harnesses(service)
        await harness.start()
        error = await harness.up.wait_for(ErrorFrame)
        await asyncio.sleep(0.1)
        await harness.stop()
    assert error.fatal
    assert error.category is ErrorCategory.AUTHENTICATION
    assert "OPENAI_API_KEY" in error.error
    assert "sk-test" not in error.error and "sk-right" not in error.error
    assert len(harness.up.of(ErrorFrame)) == 1


async def test_session_expired_reconnects_and_reseeds(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses)
    await harness.send(hello())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    conn.expire_session()
    second = await simulator.wait_for_connection(count=2)
    await second.wait_for_client_event("session.update")
    seeded = await second.wait_for_client_event("conversation.item.create")
    await harness.stop()
    assert seeded["item"]["content"][0]["text"] == "Hello"
    assert not harness.up.of(ErrorFrame)


async def test_refused_response_create_is_sent_again_after_the_active_one(simulator, harnesses):
    simulator.faults.errors_for["response.create"] = InjectedError(
        "conversation_already_has_active_response", "Conversation already has an active response."
    )
    _, harness, conn = await started(simulator, harnesses)
    await harness.send(hello())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 1
    del simulator.faults.errors_for["response.create"]
    # The response the server said was active ends: the refused request goes out.
    response = {"id": "resp_other", "object": "realtime.response", "status": "in_progress"}
    conn.send_event(make_event("response.created", response=response))
    conn.send_event(make_event("response.done", response=dict(response, status="completed")))
    await conn.wait_for_client_event("response.create", count=2)
    await harness.down.wait_for(LLMFullResponseEndFrame, count=3)
    await harness.stop()
    assert conn.client_event_types.count("response.create") == 2
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 3
    assert len(harness.down.of(LLMFullResponseEndFrame)) == 3
    assert not harness.up.of(ErrorFrame), "a handled race is not reported as an error"


async def test_failed_response_has_one_frame_pair_and_an_error(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses)
    response = {"id": "resp_failed", "object": "realtime.response", "status": "in_progress"}
    conn.send_event(make_event("response.created", response=response))
    failed = dict(
        response,
        status="failed",
        status_details={"type": "failed", "error": {"type": "server_error", "message": "Boom"}},
    )
    conn.send_event(make_event("response.done", response=failed))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    error = await harness.up.wait_for(ErrorFrame)
    await harness.stop()
    assert "Boom" in error.error and not error.fatal
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 1
    assert len(harness.down.of(LLMFullResponseEndFrame)) == 1


async def test_retrieve_conversation_item(simulator, harnesses):
    service, harness, conn = await started(simulator, harnesses)
    await harness.send(hello())
    await harness.down.wait_for(LLMFullResponseEndFrame)
    item_id = conn.items[0]["id"]
    item = await service.retrieve_conversation_item(item_id)
    assert item.id == item_id and item.role == "user"
    with pytest.raises(RuntimeError):
        await service.retrieve_conversation_item("item_missing")
    await harness.stop()


def test_schema_check_rejects_invalid_client_events():
    # Guards the end-of-test check of every simulator test against passing vacuously.
    bad = SimpleNamespace(client_events=[{"type": "conversation.item.truncate"}])
    with pytest.raises(AssertionError, match=r"conversation\.item\.truncate"):
        assert_client_events_official(SimpleNamespace(connections=[bad]))


async def test_rejected_session_update_does_not_hold_the_session_forever(simulator, harnesses):
    simulator.faults.errors_for["session.update"] = InjectedError(
        "invalid_value", "Invalid value: 'robot'. Supported values are: 'alloy', ...", param="voice"
    )
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    await harness.send(hello())
    error = await harness.up.wait_for(ErrorFrame)
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    assert "robot" in error.error and not error.fatal
    assert simulator.connections[0].client_event_types.count("response.create") == 1
