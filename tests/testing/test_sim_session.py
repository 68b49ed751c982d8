"""Connection, auth, session and validation behaviour over a real socket."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pipecat_realtime_openai.testing import RealtimeSimulator
from tests.testing.sim_client import SimClient


async def test_session_created_carries_model_from_url_and_defaults():
    async with RealtimeSimulator() as sim:
        client = await SimClient.open(sim, model="gpt-realtime-mini")
        async with client:
            session = client.received[0]["session"]
            assert session["model"] == "gpt-realtime-mini"
            assert session["id"].startswith("sess_")
            assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        conn = await sim.wait_for_connection()
        assert conn.model == "gpt-realtime-mini"
        assert conn.server_event_types[0] == "session.created"
        assert sim.base_url == f"ws://127.0.0.1:{sim.port}/v1/realtime"


async def test_any_key_is_accepted_by_default():
    async with RealtimeSimulator() as sim:
        client = await SimClient.open(sim, api_key="whatever")
        await client.close()


async def test_wrong_key_gets_invalid_api_key_error_then_close():
    async with RealtimeSimulator(api_key="sk-right") as sim:
        ws = await connect(sim.url(), additional_headers={"Authorization": "Bearer sk-wrong"})
        event = json.loads(await ws.recv())
        assert event["type"] == "error"
        assert event["error"]["code"] == "invalid_api_key"
        assert event["error"]["type"] == "invalid_request_error"
        assert "sk-wrong" not in event["error"]["message"]
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert sim.connections == []
        client = await SimClient.open(sim, api_key="sk-right")
        await client.close()


async def test_missing_key_is_rejected_when_a_key_is_expected():
    async with RealtimeSimulator(api_key="sk-right") as sim:
        ws = await connect(sim.url())
        event = json.loads(await ws.recv())
        assert event["error"]["code"] == "invalid_api_key"
        await ws.close()


async def test_wrong_path_is_http_404():
    async with RealtimeSimulator() as sim:
        with pytest.raises(InvalidStatus) as info:
            await connect(f"ws://127.0.0.1:{sim.port}/v1/other")
        assert info.value.response.status_code == 404


async def test_session_update_answers_full_effective_config():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "instructions": "Be brief."},
                }
            )
            (updated,) = await client.recv_until("session.updated")
            assert updated["session"]["instructions"] == "Be brief."
            assert updated["session"]["audio"]["output"]["voice"] == "alloy"
            assert updated["session"]["id"] == client.received[0]["session"]["id"]
        assert sim.connections[0].session["instructions"] == "Be brief."


@pytest.mark.parametrize(
    ("audio", "code"),
    [
        ({"input": {"format": {"type": "audio/pcm", "rate": 16000}}}, "invalid_value"),
        ({"output": {"voice": "nobody"}}, "invalid_value"),
    ],
)
async def test_invalid_session_update_gets_error_with_client_event_id(audio, code):
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send(
                {
                    "type": "session.update",
                    "event_id": "evt_mine",
                    "session": {"type": "realtime", "audio": audio},
                }
            )
            (error,) = await client.recv_until("error")
            assert error["error"]["code"] == code
            assert error["error"]["event_id"] == "evt_mine"
        assert sim.connections[0].session["audio"]["output"]["voice"] == "alloy"


async def test_voice_cannot_change_after_assistant_audio():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send({"type": "response.create"})
            await client.recv_until("response.done")
            await client.send(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "audio": {"output": {"voice": "marin"}}},
                }
            )
            (error,) = await client.recv_until("error")
            assert error["error"]["code"] == "cannot_update_voice"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "conversation.item.truncate", "event_id": "evt_bad", "item_id": "item_x"},
        {"type": "no.such.event", "event_id": "evt_bad"},
        {"type": "input_audio_buffer.append", "event_id": "evt_bad", "audio": "***"},
        {"type": "input_audio_buffer.append", "event_id": "evt_bad"},
        {"type": "session.update", "event_id": "evt_bad", "session": {"type": "bogus"}},
    ],
)
async def test_invalid_client_events_get_invalid_request_error_with_event_id(event):
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.send(event)
            (error,) = await client.recv_until("error")
            assert error["error"]["type"] == "invalid_request_error"
            assert error["error"]["event_id"] == "evt_bad"
        conn = sim.connections[0]
        assert conn.client_events == [event]


async def test_frame_that_is_not_json_gets_an_error():
    async with RealtimeSimulator() as sim:
        async with await SimClient.open(sim) as client:
            await client.ws.send("{not json")
            (error,) = await client.recv_until("error")
            assert error["error"]["code"] == "invalid_json"
