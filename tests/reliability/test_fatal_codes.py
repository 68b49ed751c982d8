"""The error policy end to end: fatal codes end cleanly, recoverable ones never end it.

Errors only the user can fix give one clear fatal ErrorFrame, no retries, and nothing
left hanging. Each case counts connection attempts at the TCP level (a pass-through in front of the
simulator sees handshakes the simulator refuses), so a retry storm cannot hide. After
the fatal error the pipeline must end by itself: Pipecat cancels a pipeline on a fatal
``ErrorFrame``, and nothing in the service may keep it (or a reconnect loop) alive.

The account errors are raised where they happen in practice: answering the first
``session.update``, answering a ``response.create`` mid-session, and sent unprompted
just before the server closes the connection (which must not count as an outage to
reconnect from).

Recoverable errors (the races of ``response.cancel``, empty commits, items already
gone, unknown codes, server errors) never stop the session: ignored ones push no
``ErrorFrame``, reported ones push a non-fatal one, and the next turn is answered. A
``response.create`` refused because another response is active goes out again, once,
when that response ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pipecat.frames.frames import (
    ErrorFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    TTSTextFrame,
)

from pipecat_realtime_openai.core.errors import ErrorAction, classify_error, classify_http_status
from pipecat_realtime_openai.core.lifecycle import Closing, ResponseLifecycle
from pipecat_realtime_openai.core.reconnect import ReconnectOptions
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import (
    InjectedError,
    RealtimeSimulator,
    Reply,
    ScriptedResponder,
    SimulatedConnection,
)
from pipecat_realtime_openai.testing.server_events import error_event
from tests.reliability.conftest import (
    WAIT_S,
    ConnectionCounter,
    Harness,
    assert_client_events_official,
    make_service,
    wait_until,
)

# Retries, if any were (wrongly) made, would come at once and then every 10 ms.
EAGER = ReconnectOptions(initial_delay=0.01, max_delay=0.01, jitter=0.0, max_retries=50)
# Long enough for several such retries to show up in the attempt count.
RETRY_WINDOW_S = 0.2

ACCOUNT_CODES = {
    # code -> (error type the server uses, words of the fix the message must name)
    "insufficient_quota": ("insufficient_quota", "billing"),
    "account_deactivated": ("invalid_request_error", "support"),
    "billing_hard_limit_reached": ("invalid_request_error", "hard limit"),
}


@dataclass
class Outcome:
    """What one fatal case produced."""

    errors: list[ErrorFrame]
    attempts: int
    ended_by_itself: bool
    session_task_done: bool


async def run_until_fatal(sim: RealtimeSimulator, counter: ConnectionCounter, trigger) -> Outcome:
    """Run a pipeline through ``counter`` until the fatal error; report what happened.

    Args:
        sim: The simulator (behind ``counter``).
        counter: Counts connection attempts.
        trigger: ``async (harness, sim) -> None`` that provokes the error once started.
    """
    service = OpenAIRealtimeLLMService(
        api_key="sk-test", base_url=counter.base_url(sim), reconnect=EAGER
    )
    harness = Harness(service)
    await harness.start()
    task = harness.run_task
    assert task is not None
    try:
        await trigger(harness, sim)
        await harness.up.wait_for(ErrorFrame)
        # The pipeline ends by itself: no EndFrame from us.
        done, _ = await asyncio.wait({task}, timeout=WAIT_S)
        await asyncio.sleep(RETRY_WINDOW_S)  # time for a retry storm to show, if any
        session_task = service.supervisor.task
        return Outcome(
            errors=harness.up.of(ErrorFrame),
            attempts=counter.attempts,
            ended_by_itself=bool(done),
            session_task_done=session_task is None or session_task.done(),
        )
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def assert_one_clear_fatal_error(outcome: Outcome, hint: str, fix: str) -> None:
    assert len(outcome.errors) == 1, [e.error for e in outcome.errors]
    error = outcome.errors[0]
    assert error.fatal
    assert hint in error.error, error.error
    assert fix in error.error, error.error
    assert "sk-test" not in error.error
    assert outcome.attempts == 1, f"{outcome.attempts} connection attempts"
    assert outcome.ended_by_itself, "the pipeline was left running after a fatal error"
    assert outcome.session_task_done


async def no_trigger(harness: Harness, sim: RealtimeSimulator) -> None:
    """The error comes by itself while connecting."""


async def ask(harness: Harness, sim: RealtimeSimulator) -> None:
    conn = await sim.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    await harness.send(LLMMessagesAppendFrame([{"role": "user", "content": "Hi"}], run_llm=True))


@pytest.mark.parametrize("code", sorted(ACCOUNT_CODES))
@pytest.mark.parametrize("when", ["session.update", "response.create", "then close"])
async def test_account_error_is_one_fatal_error_and_never_retried(counted, code, when):
    error_type, fix = ACCOUNT_CODES[code]
    message = "You exceeded your current quota, please check your plan and billing details."
    async with RealtimeSimulator() as sim:
        counter = await counted(sim)
        if when == "then close":

            async def trigger(harness: Harness, sim: RealtimeSimulator) -> None:
                conn = await sim.wait_for_connection()
                await conn.wait_for_server_event("session.updated")
                conn.send_event(error_event(code, message, error_type=error_type))
                await conn.wait_for_server_event("error")
                await conn.websocket.close(1008, code)

        else:
            sim.faults.errors_for[when] = InjectedError(code, message, error_type=error_type)
            trigger = ask if when == "response.create" else no_trigger
        outcome = await run_until_fatal(sim, counter, trigger)
        assert_client_events_official(sim)

    assert_one_clear_fatal_error(outcome, classify_error(code).hint, fix)
    assert code in outcome.errors[0].error


async def test_rejected_api_key_is_one_fatal_error_and_never_retried(counted):
    async with RealtimeSimulator(api_key="sk-the-right-one") as sim:
        counter = await counted(sim)
        outcome = await run_until_fatal(sim, counter, no_trigger)

    assert_one_clear_fatal_error(outcome, classify_error("invalid_api_key").hint, "OPENAI_API_KEY")
    assert "sk-the-right-one" not in outcome.errors[0].error


@pytest.mark.parametrize(("status", "fix"), [(401, "OPENAI_API_KEY"), (403, "no access")])
async def test_refused_handshake_is_one_fatal_error_and_never_retried(counted, status, fix):
    async with RealtimeSimulator() as sim:
        sim.faults.refuse_connections = 100
        sim.faults.refuse_status = status
        counter = await counted(sim)
        outcome = await run_until_fatal(sim, counter, no_trigger)

    assert_one_clear_fatal_error(outcome, classify_http_status(status).hint, fix)
    assert not sim.connections


async def test_the_counter_does_see_retries():
    # Guards the attempt counts above: a retryable refusal (503) is retried through the
    # counter, so "one attempt" there is a real observation.
    async with RealtimeSimulator() as sim:
        sim.faults.refuse_connections = 2
        counter = ConnectionCounter(sim.port)
        await counter.start()
        try:
            service = OpenAIRealtimeLLMService(
                api_key="sk-test", base_url=counter.base_url(sim), reconnect=EAGER
            )
            harness = Harness(service)
            await harness.start()
            conn = await sim.wait_for_connection()
            await conn.wait_for_server_event("session.updated")
            await harness.stop()
        finally:
            await counter.stop()
    assert counter.attempts == 3


def test_every_code_tested_here_is_fatal_in_the_policy():
    for code in [*ACCOUNT_CODES, "invalid_api_key"]:
        assert classify_error(code).action is ErrorAction.FATAL
    for status in (401, 403):
        assert classify_http_status(status).action is ErrorAction.FATAL


# -- recoverable errors: reported or ignored, and the session goes on -----------------


@contextlib.asynccontextmanager
async def live_session(
    sim: RealtimeSimulator, **kwargs: Any
) -> AsyncIterator[tuple[OpenAIRealtimeLLMService, Harness, SimulatedConnection]]:
    """A configured session on ``sim``; torn down even when the test fails."""
    service = make_service(sim, **kwargs)
    harness = Harness(service)
    await harness.start()
    try:
        conn = await sim.wait_for_connection()
        await conn.wait_for_server_event("session.updated")
        yield service, harness, conn
        await harness.stop()
    finally:
        await harness.abort()


def completed_responses(conn: SimulatedConnection) -> int:
    return sum(
        1
        for event in conn.server_events
        if event.get("type") == "response.done" and event["response"]["status"] == "completed"
    )


def error_codes(conn: SimulatedConnection) -> list[str]:
    return [e["error"]["code"] for e in conn.server_events if e.get("type") == "error"]


async def test_refused_request_behind_an_unannounced_response_is_sent_again_once():
    # A response the app asked for behind the service's back starts; the bot's own
    # request, sent before the server announced it, is refused with
    # conversation_already_has_active_response. The request must go out again, once,
    # when that response ends, and be answered. (Out-of-band responses, conversation
    # "none", do not take the conversation's slot: they run beside it.)
    responder = ScriptedResponder(
        [Reply(text="An aside that takes a little while to say."), Reply(text="Your answer.")]
    )
    async with RealtimeSimulator(responder=responder, pace="realtime") as sim:
        async with live_session(sim) as (service, harness, conn):
            sim.faults.latency_seconds = 0.05  # the server reacts after the bot asked
            await service.send_client_event({"type": "response.create", "response": {}})
            await harness.send(
                LLMMessagesAppendFrame([{"role": "user", "content": "And me?"}], run_llm=True)
            )
            await conn.wait_for_server_event("error")
            sim.faults.latency_seconds = 0.0
            await wait_until(lambda: completed_responses(conn) == 2)
            await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
        assert_client_events_official(sim)

    assert error_codes(conn) == ["conversation_already_has_active_response"]
    assert conn.client_event_types.count("response.create") == 3, "one extra request, not more"
    spoken = "".join(f.text for f in harness.down.of(TTSTextFrame))
    assert "Your answer." in spoken
    assert not harness.up.of(ErrorFrame), "a handled race is not an error for the app"
    starts, ends = (
        harness.down.of(LLMFullResponseStartFrame),
        harness.down.of(LLMFullResponseEndFrame),
    )
    assert len(starts) == len(ends)


def test_refusal_after_another_response_was_taken_for_the_request_owes_it():
    life = ResponseLifecycle()
    assert life.on_response_requested()
    assert life.on_response_created("resp_other") is False  # taken as the request's
    assert life.on_request_failed(already_active=True) == Closing()
    assert life.owed
    assert life.on_response_done("resp_other") == Closing(
        full_response_end=True, response_create_due=True
    )
    # The other response may even have ended before the refusal arrived.
    life = ResponseLifecycle()
    life.on_response_requested()
    life.on_response_created("resp_other")
    life.on_response_done("resp_other")
    assert life.on_request_failed(already_active=True) == Closing(response_create_due=True)


async def provoke_cancel_not_active(service, harness, conn) -> str:
    await service.send_client_event({"type": "response.cancel"})
    return "response_cancel_not_active"


async def provoke_commit_empty(service, harness, conn) -> str:
    await service.send_client_event({"type": "input_audio_buffer.commit"})
    return "input_audio_buffer_commit_empty"


async def provoke_delete_missing(service, harness, conn) -> str:
    await service.send_client_event({"type": "conversation.item.delete", "item_id": "item_gone"})
    return "item_delete_invalid_item_id"


async def provoke_truncate_missing(service, harness, conn) -> str:
    await service.send_client_event(
        {
            "type": "conversation.item.truncate",
            "item_id": "item_gone",
            "content_index": 0,
            "audio_end_ms": 10,
        }
    )
    return "item_truncate_invalid_item_id"


async def provoke_retrieve_missing(service, harness, conn) -> str:
    with pytest.raises(RuntimeError):
        await service.retrieve_conversation_item("item_gone")
    return "item_retrieve_invalid_item_id"


async def provoke_unprompted_unknown_code(service, harness, conn) -> str:
    conn.send_event(error_event("something_new", "A code nobody documented."))
    return "something_new"


async def provoke_server_error(service, harness, conn) -> str:
    conn.send_event(error_event("server_error", "Try again.", error_type="server_error"))
    return "server_error"


PROVOCATIONS = [
    provoke_cancel_not_active,
    provoke_commit_empty,
    provoke_delete_missing,
    provoke_truncate_missing,
    provoke_retrieve_missing,
    provoke_unprompted_unknown_code,
    provoke_server_error,
]


@pytest.mark.parametrize("provoke", PROVOCATIONS, ids=lambda f: f.__name__[len("provoke_") :])
async def test_recoverable_error_never_stops_the_session(provoke):
    responder = ScriptedResponder([Reply(text="Before."), Reply(text="After.")])
    async with RealtimeSimulator(responder=responder) as sim:
        async with live_session(sim) as (service, harness, conn):
            await harness.send(
                LLMMessagesAppendFrame([{"role": "user", "content": "One"}], run_llm=True)
            )
            await harness.down.wait_for(LLMFullResponseEndFrame)
            code = await provoke(service, harness, conn)
            await conn.wait_for_server_event("error")
            # The receive loop is still there: the next turn is answered.
            await harness.send(
                LLMMessagesAppendFrame([{"role": "user", "content": "Two"}], run_llm=True)
            )
            await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
        assert_client_events_official(sim)

    assert error_codes(conn) == [code]
    assert len(sim.connections) == 1, "no reconnect for a recoverable error"
    assert "After." in "".join(f.text for f in harness.down.of(TTSTextFrame))
    errors = harness.up.of(ErrorFrame)
    assert not [e for e in errors if e.fatal]
    rule = classify_error(code)
    if rule.action is ErrorAction.IGNORE:
        assert not errors, [e.error for e in errors]
    else:
        assert rule.action is ErrorAction.RECOVER
        assert len(errors) == 1 and code in errors[0].error
