"""Connecting: refused then accepted, backoff that grows, giving up, and fatal errors.

Credentials and account errors are never retried: one fatal ``ErrorFrame`` that says
what to fix, and the session task ends (no further attempts).
"""

from __future__ import annotations

import asyncio

import pytest
from pipecat.frames.frames import ErrorFrame, LLMFullResponseEndFrame
from pipecat.utils.errors import ErrorCategory

from pipecat_realtime_openai.core.reconnect import ReconnectOptions
from pipecat_realtime_openai.testing import RealtimeSimulator, Reply, ScriptedResponder
from pipecat_realtime_openai.testing.server_events import error_event
from tests.reliability.test_reconnect_support import (
    FAST,
    ReconnectEvents,
    assert_no_fatal_error,
    assert_restored,
    first_context,
    said,
    started,
)
from tests.service.conftest import WAIT_S, harnesses, make_service, simulator

__all__ = ["harnesses", "simulator"]


async def session_ended(service) -> None:
    """Wait until the service stopped trying to connect (its session task finished).

    A fatal error also makes the pipeline cancel the service, which may cancel the
    task first; either way no further attempt can follow.
    """
    task = service.supervisor.task
    if task is not None:
        await asyncio.wait({task}, timeout=WAIT_S)
        assert task.done()


async def test_refused_at_start_then_accepted(simulator, harnesses):
    simulator.faults.refuse_connections = 2
    service = make_service(simulator, reconnect=FAST)
    events = ReconnectEvents(service)
    harness = harnesses(service)
    await harness.start()
    await harness.send(first_context("Hello"))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await events.wait(reconnected=1)
    await harness.stop()

    assert len(simulator.connections) == 1
    assert [i.attempt for i in events.reconnecting] == [1, 2]
    assert "HTTP 503" in events.reconnected[0].reason
    assert events.reconnected[0].attempt == 2
    assert_no_fatal_error(harness)


async def test_drop_then_refused_then_accepted_restores(simulator, harnesses):
    simulator.responder = ScriptedResponder([Reply(text="First."), Reply(text="Second.")])
    _service, harness, first, events = await started(simulator, harnesses)
    await harness.send(first_context("One"))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await first.wait_for_server_event("response.done")
    simulator.faults.refuse_connections = 3
    simulator.faults.refuse_status = None  # the TCP connection closes mid-handshake
    first.drop()
    await events.wait(reconnected=1)
    second = await simulator.wait_for_connection(count=2)
    await harness.send(said("Two"))
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    assert_restored(first, second)
    assert [i.attempt for i in events.reconnecting] == [1, 2, 3, 4]
    assert "unexpectedly" in events.reconnected[0].reason, "the reason is what began the outage"
    assert events.reconnected[0].attempt == 4
    assert_no_fatal_error(harness)


async def test_backoff_delays_grow_and_are_waited(simulator, harnesses):
    options = ReconnectOptions(
        initial_delay=0.01, max_delay=0.05, jitter=0.0, max_retries=None, max_session_duration=None
    )
    simulator.faults.refuse_connections = 6
    service = make_service(simulator, reconnect=options)
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    service.supervisor.sleep = fake_sleep  # no real waiting: only the delays matter
    events = ReconnectEvents(service)
    harness = harnesses(service)
    await harness.start()
    await events.wait(reconnected=1)
    await harness.stop()

    delays = [i.delay for i in events.reconnecting]
    assert delays == pytest.approx([0.0, 0.01, 0.02, 0.04, 0.05, 0.05])
    assert waited == pytest.approx(delays[1:]), "the first retry is immediate"


async def test_gives_up_after_max_retries_with_one_fatal_error(harnesses):
    options = ReconnectOptions(
        initial_delay=0.01, max_delay=0.02, max_retries=2, max_session_duration=None
    )
    async with RealtimeSimulator() as sim:
        sim.faults.refuse_connections = 10**6
        service = make_service(sim, reconnect=options)
        harness = harnesses(service)
        await harness.start()
        error = await harness.up.wait_for(ErrorFrame)
        await session_ended(service)
        attempts = 10**6 - sim.faults.refuse_connections
        await harness.stop()

    assert attempts == 3, "one attempt, then max_retries more"
    assert error.fatal and error.category is ErrorCategory.CONNECTIVITY
    assert "2 reconnect attempts failed" in error.error and "max_retries" in error.error
    assert len(harness.up.of(ErrorFrame)) == 1


@pytest.mark.parametrize(
    ("status", "category", "hint"),
    [
        (401, ErrorCategory.AUTHENTICATION, "OPENAI_API_KEY"),
        (403, ErrorCategory.AUTHORIZATION, "no access"),
    ],
)
async def test_refused_credentials_are_never_retried(harnesses, status, category, hint):
    async with RealtimeSimulator() as sim:
        sim.faults.refuse_connections = 10
        sim.faults.refuse_status = status
        service = make_service(sim, reconnect=FAST)
        events = ReconnectEvents(service)
        harness = harnesses(service)
        await harness.start()
        error = await harness.up.wait_for(ErrorFrame)
        await session_ended(service)
        await harness.stop()

    assert sim.faults.refuse_connections == 9, "exactly one attempt"
    assert error.fatal and error.category is category and hint in error.error
    assert not events.reconnecting
    assert len(harness.up.of(ErrorFrame)) == 1


async def test_rejected_key_after_the_upgrade_is_never_retried(harnesses):
    async with RealtimeSimulator(api_key="sk-right") as sim:
        service = make_service(sim, reconnect=FAST)  # sends "sk-test"
        events = ReconnectEvents(service)
        harness = harnesses(service)
        await harness.start()
        error = await harness.up.wait_for(ErrorFrame)
        await session_ended(service)
        await harness.stop()

    assert error.fatal and "OPENAI_API_KEY" in error.error and "sk-" not in error.error
    assert not events.reconnecting
    assert len(harness.up.of(ErrorFrame)) == 1


@pytest.mark.parametrize(
    ("code", "category", "hint"),
    [
        ("insufficient_quota", ErrorCategory.QUOTA, "billing"),
        ("account_deactivated", ErrorCategory.AUTHORIZATION, "support"),
        ("billing_hard_limit_reached", ErrorCategory.QUOTA, "hard limit"),
    ],
)
async def test_account_errors_mid_session_end_it_without_retry(
    simulator, harnesses, code, category, hint
):
    service, harness, first, events = await started(simulator, harnesses)
    first.send_event(error_event(code, "Account problem.", error_type="insufficient_quota"))
    error = await harness.up.wait_for(ErrorFrame)
    await session_ended(service)
    await harness.stop()

    assert error.fatal and error.category is category and hint in error.error
    assert len(simulator.connections) == 1 and not events.reconnecting
    assert len(harness.up.of(ErrorFrame)) == 1


async def test_connections_that_keep_dropping_back_off_then_restore(simulator, harnesses):
    options = ReconnectOptions(
        initial_delay=0.01, max_delay=0.08, jitter=0.0, max_retries=None, max_session_duration=None
    )
    simulator.responder = ScriptedResponder([Reply(text="Noted."), Reply(text="Back.")])
    service, harness, first, events = await started(simulator, harnesses, reconnect=options)
    waited: list[float] = []

    async def recording_sleep(seconds: float) -> None:
        waited.append(seconds)
        if len(waited) == 5:  # the network recovers
            simulator.faults.drop_after_server_events = None

    service.supervisor.sleep = recording_sleep
    await harness.send(first_context("Remember: blue."))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await first.wait_for_server_event("response.done")
    # Every new connection now dies right after session.created, before any restore.
    simulator.faults.drop_after_server_events = 1
    first.drop()
    await events.wait(reconnected=1)
    last = simulator.connections[-1]
    await harness.send(said("What colour?"))
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    assert len(simulator.connections) == 7, "the first, five that dropped, the good one"
    assert [i.delay for i in events.reconnecting] == pytest.approx(
        [0.0, 0.01, 0.02, 0.04, 0.08, 0.08]
    )
    assert waited == pytest.approx([0.01, 0.02, 0.04, 0.08, 0.08])
    assert events.reconnected[0].attempt == 6
    assert_restored(first, last)
    assert_no_fatal_error(harness)
