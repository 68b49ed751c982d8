"""Fault injection and introspection helpers over a real socket."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from pipecat_realtime_openai.testing import Faults, InjectedError, RealtimeSimulator
from tests.testing.sim_client import SimClient, types


async def test_drop_after_n_server_events_aborts_without_close_frame():
    async with RealtimeSimulator(faults=Faults(drop_after_server_events=3)) as sim:
        client = await SimClient.open(sim)
        await client.send({"type": "response.create"})
        events = [await client.recv(), await client.recv()]
        with pytest.raises(ConnectionClosedError) as info:
            await client.recv()
        assert info.value.rcvd is None  # no close frame: an abrupt drop
        conn = sim.connections[0]
        await asyncio.wait_for(conn.closed.wait(), 5)
        assert len(conn.server_events) == 3
        assert types(events) == conn.server_event_types[1:]


async def test_drop_after_seconds_and_on_demand_drop():
    async with RealtimeSimulator(faults=Faults(drop_after_seconds=0.05)) as sim:
        client = await SimClient.open(sim)
        with pytest.raises(ConnectionClosedError):
            await client.recv()
        sim.faults.drop_after_seconds = None
        client = await SimClient.open(sim)
        conn = await sim.wait_for_connection(2)
        conn.drop()
        with pytest.raises(ConnectionClosedError):
            await client.recv()


async def test_injected_error_answers_a_client_event_type_instead_of_handling_it():
    faults = Faults(
        errors_for={"response.create": InjectedError("server_error", "boom", "server_error")}
    )
    async with RealtimeSimulator(faults=faults) as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create", "event_id": "evt_r"})
            (error,) = await client.recv_until("error")
            assert error["error"] == {
                "type": "server_error",
                "code": "server_error",
                "message": "boom",
                "param": None,
                "event_id": "evt_r",
            }
        conn = sim.connections[0]
        assert conn.client_event_types == ["response.create"]
        assert "response.created" not in conn.server_event_types


async def test_session_expiry_sends_real_error_then_closes():
    async with RealtimeSimulator(faults=Faults(session_max_seconds=0.05)) as sim:
        client = await SimClient.open(sim)
        error = await client.recv()
        assert error["error"]["code"] == "session_expired"
        assert error["error"]["message"] == "Your session hit the maximum duration of 60 minutes."
        with pytest.raises(ConnectionClosed):
            await client.recv()


async def test_expire_session_on_demand():
    async with RealtimeSimulator() as sim:
        client = await SimClient.open(sim)
        (await sim.wait_for_connection()).expire_session()
        assert (await client.recv())["error"]["code"] == "session_expired"
        with pytest.raises(ConnectionClosed):
            await client.recv()


async def test_malformed_and_unknown_frames_on_demand():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            conn = await sim.wait_for_connection()
            conn.send_malformed()
            conn.send_unknown_event("future.event")
            raw = await client.ws.recv()
            with pytest.raises(ValueError):
                json.loads(raw)
            unknown = json.loads(await client.ws.recv())
            assert unknown["type"] == "future.event"
            # The session still works afterwards.
            await client.send({"type": "response.create"})
            await client.recv_until("response.done")


async def test_latency_still_answers_in_order():
    async with RealtimeSimulator(faults=Faults(latency_seconds=0.01)) as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create"})
            events = await client.recv_until("response.done")
            assert types(events)[0] == "response.created"


async def test_refused_connections_get_http_503_then_succeed():
    async with RealtimeSimulator(faults=Faults(refuse_connections=2)) as sim:
        for _ in range(2):
            with pytest.raises(InvalidStatus) as info:
                await connect(sim.url())
            assert info.value.response.status_code == 503
        client = await SimClient.open(sim)
        await client.close()
        assert len(sim.connections) == 1


async def test_refused_connection_can_close_during_handshake():
    async with RealtimeSimulator(faults=Faults(refuse_connections=1, refuse_status=None)) as sim:
        with pytest.raises(Exception) as info:
            await connect(sim.url(), open_timeout=2)
        assert not isinstance(info.value, TimeoutError)
        client = await SimClient.open(sim)
        await client.close()


async def test_wait_for_client_event_counts_occurrences_and_times_out():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            conn = await sim.wait_for_connection()
            waiter = asyncio.create_task(conn.wait_for_client_event("response.create", count=2))
            await client.send({"type": "response.create", "event_id": "first"})
            await client.recv_until("response.done")
            assert not waiter.done()
            await client.send({"type": "response.create", "event_id": "second"})
            assert (await waiter)["event_id"] == "second"
            done = await conn.wait_for_server_event("response.done", count=2)
            assert done["type"] == "response.done"
            with pytest.raises(TimeoutError):
                await conn.wait_for_client_event("session.update", timeout_s=0.05)


async def test_connections_keep_their_own_events_and_items():
    async with RealtimeSimulator() as sim:
        first = await SimClient.open(sim)
        await first.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hi"}],
                },
            }
        )
        await first.recv_until("conversation.item.done")
        await first.close()
        second = await SimClient.open(sim)
        await second.close()
        conn1 = await sim.wait_for_connection(1)
        conn2 = await sim.wait_for_connection(2)
        assert conn1.client_event_types == ["conversation.item.create"]
        assert conn1.items[0]["content"][0]["text"] == "hi"
        assert conn2.items == [] and conn2.client_events == []
        assert conn1.session["id"] != conn2.session["id"]


async def test_a_responder_crash_becomes_a_server_error_not_a_hang():
    class Broken:
        def reply(self, context):
            raise RuntimeError("bug in test responder")

    async with RealtimeSimulator(responder=Broken()) as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create", "event_id": "evt_x"})
            (error,) = await client.recv_until("error")
            assert error["error"]["type"] == "server_error"
            assert error["error"]["event_id"] == "evt_x"
