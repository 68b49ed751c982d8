"""A minimal Realtime client for the simulator tests: every server event it receives is
checked against the official schema, so each test also checks the simulator's output."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from pipecat_realtime_openai.protocol.official import official_server_event_error
from pipecat_realtime_openai.testing import RealtimeSimulator

RECV_TIMEOUT_S = 5.0


class SimClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self.check_schema = True

    @classmethod
    async def open(
        cls, sim: RealtimeSimulator, model: str = "gpt-realtime", api_key: str = "sk-test"
    ) -> SimClient:
        ws = await connect(
            sim.url(model),
            additional_headers={"Authorization": f"Bearer {api_key}"},
            max_size=None,
            max_queue=None,
        )
        client = cls(ws)
        created = await client.recv()
        assert created["type"] == "session.created"
        return client

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def recv(self) -> dict[str, Any]:
        async with asyncio.timeout(RECV_TIMEOUT_S):
            frame = await self.ws.recv()
        event = json.loads(frame)
        if self.check_schema:
            problem = official_server_event_error(event)
            assert problem is None, problem
        self.received.append(event)
        return event

    async def recv_until(self, event_type: str) -> list[dict[str, Any]]:
        """Receive events up to and including the next one of `event_type`."""
        events = []
        while True:
            event = await self.recv()
            events.append(event)
            if event["type"] == event_type:
                return events

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> SimClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def collapse_runs(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if not out or out[-1] != name or not name.endswith(".delta"):
            out.append(name)
    return out


def tone(ms: int, amplitude: float = 8000.0, rate: int = 24000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes()


def silence(ms: int, rate: int = 24000, bytes_per_sample: int = 2) -> bytes:
    return b"\x00" * (rate * ms // 1000 * bytes_per_sample)


def append_events(audio: bytes, chunk_bytes: int = 4800) -> list[dict[str, Any]]:
    return [
        {
            "type": "input_audio_buffer.append",
            "audio": base64.b64encode(audio[i : i + chunk_bytes]).decode(),
        }
        for i in range(0, len(audio), chunk_bytes)
    ]
