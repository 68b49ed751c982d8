"""examples/twilio_bot.py answers a Twilio media stream call against the simulator.

The example's FastAPI app runs in uvicorn on a loopback port; the test plays Twilio: it
speaks the media stream protocol over a real WebSocket (``connected``, ``start``, a
``media`` message of 20 ms of mu-law every 20 ms for the whole call, ``mark`` echoes,
``stop``), and the bot talks to the simulator over another.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn
import websockets

from pipecat_realtime_openai.audio.formats import PCMU
from pipecat_realtime_openai.testing import Reply, ScriptedResponder
from pipecat_realtime_openai.testing.synth import speak

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "twilio_bot.py"
WAIT_S = 30.0
CHUNK_BYTES = 160  # 20 ms of 8 kHz mu-law, as Twilio sends it
# The output transport plays 40 ms chunks and pads an answer's last one with silence.
PLAYBACK_CHUNK_BYTES = 320
MULAW_SILENCE = b"\xff" * CHUNK_BYTES
STREAM_SID = "MZ00000000000000000000000000000001"
CALL_SID = "CA00000000000000000000000000000001"

pytestmark = pytest.mark.timeout(120)


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("twilio_bot", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["twilio_bot"] = module
    spec.loader.exec_module(module)
    return module


bot = load_example()


class TwilioCaller:
    """Twilio's side of a bidirectional media stream, over a real WebSocket.

    Media goes out every 20 ms for the whole call (silence unless `say` queued speech),
    as Twilio streams it. A ``mark`` from the bot is echoed at once, as Twilio does
    when the audio before it has been played (this caller plays as it receives) and
    when a ``clear`` drops the audio before it.
    """

    def __init__(self, websocket: websockets.ClientConnection) -> None:
        self.ws = websocket
        self.received: list[dict[str, Any]] = []
        self.media_bytes = 0
        self.bytes_at_mark: dict[str, int] = {}
        self.bytes_at_clear: list[int] = []
        self.sent_bytes = 0
        self._speech = bytearray()
        self._spoken = asyncio.Event()
        self._changed = asyncio.Event()
        self._sequence = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._hung_up = False

    async def start(self) -> None:
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        media_format = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
        start = {
            "accountSid": "AC00000000000000000000000000000001",
            "streamSid": STREAM_SID,
            "callSid": CALL_SID,
            "tracks": ["inbound"],
            "mediaFormat": media_format,
            "customParameters": {},
        }
        await self._send({"event": "start", "start": start, "streamSid": STREAM_SID})
        self._tasks = [
            asyncio.create_task(self._stream_media()),
            asyncio.create_task(self._receive()),
        ]

    async def say(self, mulaw: bytes) -> None:
        """Speak `mulaw` (then silence again), returning once it has all been sent."""
        self._spoken.clear()
        self._speech.extend(mulaw)
        async with asyncio.timeout(WAIT_S):
            await self._spoken.wait()

    async def wait_for(self, condition: Any) -> None:
        """Wait until `condition()` holds: on the call or in the bot's record of it."""
        async with asyncio.timeout(WAIT_S):
            while not condition():
                self._changed.clear()
                # The bot's record changes with no message to this side: look again soon.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.05)

    async def wait_for_mark(self, name: str) -> int:
        """Wait for the bot's mark `name`; returns the media bytes received before it."""
        await self.wait_for(lambda: name in self.bytes_at_mark)
        return self.bytes_at_mark[name]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("event") == name]

    async def hang_up(self) -> None:
        """Twilio's end of a call: ``stop``, then the socket closes."""
        if self._hung_up:
            return
        self._hung_up = True
        for task in self._tasks[:1]:
            task.cancel()
        await asyncio.gather(*self._tasks[:1], return_exceptions=True)
        stop = {"accountSid": "AC00000000000000000000000000000001", "callSid": CALL_SID}
        await self._send({"event": "stop", "streamSid": STREAM_SID, "stop": stop})
        await self.ws.close()
        await asyncio.gather(*self._tasks[1:], return_exceptions=True)

    async def _send(self, message: dict[str, Any]) -> None:
        self._sequence += 1
        await self.ws.send(json.dumps({**message, "sequenceNumber": str(self._sequence)}))

    async def _stream_media(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        chunk = 0
        while True:
            if self._speech:
                payload = bytes(self._speech[:CHUNK_BYTES]).ljust(CHUNK_BYTES, b"\xff")
                del self._speech[:CHUNK_BYTES]
                if not self._speech:
                    self._spoken.set()
            else:
                payload = MULAW_SILENCE
            media = {
                "track": "inbound",
                "chunk": str(chunk + 1),
                "timestamp": str(chunk * 20),
                "payload": base64.b64encode(payload).decode(),
            }
            await self._send({"event": "media", "streamSid": STREAM_SID, "media": media})
            self.sent_bytes += len(payload)
            chunk += 1
            # Paced on the call's clock, so a late wake-up does not slow the stream.
            await asyncio.sleep(max(0.0, start + chunk * 0.02 - loop.time()))

    async def _receive(self) -> None:
        async for text in self.ws:
            message = json.loads(text)
            self.received.append(message)
            event = message.get("event")
            if event == "media":
                assert message["streamSid"] == STREAM_SID
                self.media_bytes += len(base64.b64decode(message["media"]["payload"]))
            elif event == "mark":
                name = message["mark"]["name"]
                self.bytes_at_mark[name] = self.media_bytes
                await self._send({"event": "mark", "streamSid": STREAM_SID, "mark": {"name": name}})
            elif event == "clear":
                assert message["streamSid"] == STREAM_SID
                self.bytes_at_clear.append(self.media_bytes)
            self._changed.set()


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(WAIT_S):
        while not server.started:  # noqa: ASYNC110 - uvicorn sets a flag, no event
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


@pytest.fixture
async def call(simulator, request) -> AsyncIterator[tuple[TwilioCaller, Any]]:
    """A running app pointed at the simulator, and Twilio connected to it."""
    config = bot.BotConfig(
        api_key="sk-test", base_url=simulator.base_url, audio_format=request.param
    )
    app = bot.create_app(config)
    server, task, port = await serve(app)
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
            caller = TwilioCaller(ws)
            await caller.start()
            yield caller, app
            await caller.hang_up()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, WAIT_S)


def audio_bytes_of_response(conn: Any, index: int) -> int:
    """Audio bytes the simulator sent in its `index`-th response (0 = the first)."""
    created = [e for e in conn.server_events if e.get("type") == "response.created"]
    response_id = created[index]["response"]["id"]
    return sum(
        len(base64.b64decode(e["delta"]))
        for e in conn.server_events
        if e.get("type") == "response.output_audio.delta" and e.get("response_id") == response_id
    )


async def end_of_call(caller: TwilioCaller, record: Any, conn: Any) -> None:
    await caller.hang_up()
    async with asyncio.timeout(WAIT_S):
        await record.finished.wait()
        await conn.closed.wait()


def spoken(text: str) -> bytes:
    # The simulator's synthetic voice, mu-law 8 kHz: speech to its energy VAD.
    return speak(text, PCMU).audio


@pytest.mark.parametrize("call", ["pcmu", "pcma"], indirect=True)
async def test_a_call_in_g711_adds_up_end_to_end(call, simulator):
    caller, app = call
    wire_format = {"pcmu": "audio/pcmu", "pcma": "audio/pcma"}[app_format(app)]
    simulator.responder = ScriptedResponder(
        [Reply(text="Hello, how can I help?"), Reply(text="It is noon.")]
    )
    simulator.transcripts.put("What time is it?")
    conn = await simulator.wait_for_connection(timeout_s=WAIT_S)
    (record,) = app.state.calls
    assert (record.start.stream_sid, record.start.call_sid) == (STREAM_SID, CALL_SID)

    greeting_bytes = await caller.wait_for_mark("answer-1")
    await caller.say(spoken("what time is it"))
    answer_end = await caller.wait_for_mark("answer-2")
    await caller.wait_for(lambda: len(record.marks_played) == 2)
    await end_of_call(caller, record, conn)

    # The session was G.711 both ways, so the bot's audio kept its byte count from the
    # simulator to the caller: one byte a sample each way, no resampling.
    session_audio = conn.session["audio"]
    assert session_audio["input"]["format"]["type"] == wire_format
    assert session_audio["output"]["format"]["type"] == wire_format
    for sent, heard in (
        (audio_bytes_of_response(conn, 0), greeting_bytes),
        (audio_bytes_of_response(conn, 1), answer_end - greeting_bytes),
    ):
        assert sent > 0
        assert sent <= heard < sent + PLAYBACK_CHUNK_BYTES
    assert caller.media_bytes == answer_end
    # The caller's audio reached the simulator as G.711 appends, 8 bytes a millisecond.
    appended = sum(
        len(base64.b64decode(e["audio"]))
        for e in conn.client_events
        if e.get("type") == "input_audio_buffer.append"
    )
    assert "input_audio_buffer.committed" in conn.server_event_types
    assert 0.5 * caller.sent_bytes <= appended <= caller.sent_bytes
    assert record.marks_sent == record.marks_played == ["answer-1", "answer-2"]
    # Pipecat interrupts at the start of every user turn, so Twilio is told to clear
    # once, with nothing of the bot's playing then.
    assert record.clears == len(caller.events("clear")) == 1
    assert caller.bytes_at_clear == [greeting_bytes]
    assert record.errors == []
    assert "error" not in conn.server_event_types


@pytest.mark.parametrize("call", ["pcmu", "pcma"], indirect=True)
async def test_talking_over_the_bot_clears_twilio_and_truncates(call, simulator):
    caller, app = call
    simulator.pace = "realtime"
    story = "Once upon a time there was a lighthouse by the sea, and its keeper " * 2
    simulator.responder = ScriptedResponder(
        [Reply(text="Hello."), Reply(text=story), Reply(text="Sure.")]
    )
    simulator.transcripts.put("Tell me a story.", "Stop, please.")
    conn = await simulator.wait_for_connection(timeout_s=WAIT_S)
    (record,) = app.state.calls

    greeting_bytes = await caller.wait_for_mark("answer-1")
    await caller.say(spoken("tell me a story"))
    # Half a second of the story has reached the caller: they speak over it.
    await caller.wait_for(lambda: caller.media_bytes >= greeting_bytes + 4000)
    await caller.say(spoken("stop please"))
    truncate = await conn.wait_for_client_event("conversation.item.truncate", timeout_s=WAIT_S)
    # A clear at each user turn's start: the second one cuts the story off.
    await caller.wait_for(lambda: len(caller.events("clear")) == 2)
    await caller.wait_for_mark("answer-3")
    await caller.wait_for(lambda: len(record.marks_played) == len(record.marks_sent))
    await end_of_call(caller, record, conn)

    assert record.clears == 2
    story_sent = audio_bytes_of_response(conn, 1)
    story_heard = caller.bytes_at_clear[1] - greeting_bytes
    # The story was cut: less of it reached the caller than it lasts, and the server
    # is told to keep no more than was sent to the caller.
    assert 4000 <= story_heard < len(speak(story, PCMU).audio)
    assert 0 < truncate["audio_end_ms"] <= story_sent / 8
    assert truncate["audio_end_ms"] <= story_heard / 8 + 40
    # Every mark sent came back. The story's went out only if its end was queued
    # after the interruption (else it was dropped with the story's audio).
    assert record.marks_played == record.marks_sent
    assert record.marks_sent in (["answer-1", "answer-3"], ["answer-1", "answer-2", "answer-3"])
    assert record.errors == []
    assert "error" not in conn.server_event_types


def app_format(app: Any) -> str:
    return app.state.config.audio_format


def test_the_twiml_connects_the_call_to_the_stream():
    from fastapi.testclient import TestClient

    app = bot.create_app(bot.BotConfig(api_key="sk-test", public_host="bot.example.com"))
    response = TestClient(app).post("/twiml")
    assert response.headers["content-type"].startswith("application/xml")
    assert '<Stream url="wss://bot.example.com/ws" />' in response.text


def test_the_bot_hangs_up_through_twilio_only_with_credentials(monkeypatch):
    start = bot.CallStart(STREAM_SID, CALL_SID, "AC1", {})
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_BOT_AUDIO_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    config = bot.config_from_environment()
    assert (config.base_url, config.audio_format) == (None, "pcmu")
    serializer = bot.build_serializer(config, bot.CallRecord(start))
    assert serializer._params.auto_hang_up is False
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    serializer = bot.build_serializer(bot.config_from_environment(), bot.CallRecord(start))
    assert serializer._params.auto_hang_up is True


def test_without_a_key_the_bot_needs_an_endpoint(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_REALTIME_BASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="OPENAI_API_KEY"):
        bot.config_from_environment()
    config = bot.config_from_environment("ws://127.0.0.1:8766/v1/realtime", "PCMA")
    assert (config.api_key, config.audio_format) == ("local-simulator", "pcma")
    with pytest.raises(ValueError, match="pcmu or pcma"):
        bot.config_from_environment("ws://127.0.0.1:8766/v1/realtime", "opus")
