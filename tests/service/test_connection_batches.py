"""RealtimeConnection.message_batches: what was already received comes together, and
nothing waits for a frame that has not arrived."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from websockets.asyncio.server import ServerConnection, serve

from pipecat_realtime_openai import connection as connection_module
from pipecat_realtime_openai.connection import RealtimeConnection

WAIT_S = 5.0
Script = Callable[[ServerConnection, asyncio.Event], Awaitable[None]]


class Server:
    """A WebSocket server running one script per connection; ``go`` releases its steps."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.go = asyncio.Event()
        self.url = ""

    async def handle(self, ws: ServerConnection) -> None:
        await self.script(ws, self.go)


@pytest.fixture
async def server_for() -> AsyncIterator[Callable[[Script], Awaitable[Server]]]:
    servers = []

    async def start(script: Script) -> Server:
        server = Server(script)
        ws_server = await serve(server.handle, "127.0.0.1", 0)
        servers.append(ws_server)
        port = ws_server.sockets[0].getsockname()[1]
        server.url = f"ws://127.0.0.1:{port}"
        return server

    yield start
    for ws_server in servers:
        ws_server.close()
        await ws_server.wait_closed()


async def connected(server: Server) -> RealtimeConnection:
    conn = RealtimeConnection(server.url, {}, ping_interval=None)
    await conn.connect()
    return conn


async def wait_until_received(conn: RealtimeConnection, count: int) -> None:
    """Until websockets holds `count` unread frames (read through the same hint)."""
    assert conn.unread_frames is not None, "websockets' receive queue is no longer visible"
    async with asyncio.timeout(WAIT_S):
        # websockets signals nothing when a frame is queued: poll.
        while (conn.unread_frames or 0) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_frames_received_before_reading_come_in_one_batch(server_for) -> None:
    async def script(ws: ServerConnection, go: asyncio.Event) -> None:
        for n in range(5):
            await ws.send(f"m{n}")
        await go.wait()

    server = await server_for(script)
    conn = await connected(server)
    await wait_until_received(conn, 5)
    batches = conn.message_batches()
    async with asyncio.timeout(WAIT_S):
        assert await anext(batches) == ["m0", "m1", "m2", "m3", "m4"]
    server.go.set()
    await conn.close()


async def test_batch_size_is_capped(server_for) -> None:
    async def script(ws: ServerConnection, go: asyncio.Event) -> None:
        for n in range(5):
            await ws.send(f"m{n}")
        await go.wait()

    server = await server_for(script)
    conn = await connected(server)
    await wait_until_received(conn, 5)
    batches = conn.message_batches(max_batch=2)
    async with asyncio.timeout(WAIT_S):
        assert [await anext(batches) for _ in range(3)] == [["m0", "m1"], ["m2", "m3"], ["m4"]]
    server.go.set()
    await conn.close()


async def test_a_batch_never_waits_for_a_frame_not_yet_sent(server_for) -> None:
    async def script(ws: ServerConnection, go: asyncio.Event) -> None:
        await ws.send("first")
        await go.wait()  # held until the client has its first batch
        await ws.send("second")
        await ws.wait_closed()

    server = await server_for(script)
    conn = await connected(server)
    batches = conn.message_batches()
    async with asyncio.timeout(WAIT_S):
        assert await anext(batches) == ["first"]
        server.go.set()
        assert await anext(batches) == ["second"]
    await conn.close()


async def test_frames_before_a_close_are_delivered_then_iteration_ends(server_for) -> None:
    async def script(ws: ServerConnection, go: asyncio.Event) -> None:
        await ws.send("a")
        await ws.send("b")
        await ws.close(1000, "bye")

    server = await server_for(script)
    conn = await connected(server)
    received: list[str | bytes] = []
    async with asyncio.timeout(WAIT_S):
        async for batch in conn.message_batches():
            received.extend(batch)
    assert received == ["a", "b"]
    assert conn.close_code == 1000


async def test_without_a_visible_queue_frames_come_one_by_one(server_for, monkeypatch) -> None:
    # A websockets version with another internal layout: no batching, still correct.
    monkeypatch.setattr(connection_module, "received_frames", lambda ws: None)

    async def script(ws: ServerConnection, go: asyncio.Event) -> None:
        for n in range(3):
            await ws.send(f"m{n}")
        await go.wait()

    server = await server_for(script)
    conn = await connected(server)
    await asyncio.sleep(0.05)
    batches = conn.message_batches()
    async with asyncio.timeout(WAIT_S):
        assert [await anext(batches) for _ in range(3)] == [["m0"], ["m1"], ["m2"]]
    server.go.set()
    await conn.close()


def test_a_fragment_without_its_end_is_not_a_complete_message() -> None:
    class Frame:
        def __init__(self, fin: bool) -> None:
            self.fin = fin

    assert not connection_module.message_complete(deque())
    assert not connection_module.message_complete(deque([Frame(False), Frame(False)]))
    assert connection_module.message_complete(deque([Frame(False), Frame(True)]))
