"""The standalone simulator: ``python -m pipecat_realtime_openai.testing``."""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.client import connect

from pipecat_realtime_openai.testing.__main__ import build_parser


def test_parser_defaults_and_options():
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.api_key, args.pace) == ("127.0.0.1", 8765, None, "realtime")
    args = build_parser().parse_args(["--port", "0", "--api-key", "k", "--pace", "fast"])
    assert (args.port, args.api_key, args.pace) == (0, "k", "fast")


async def test_runs_standalone_and_checks_the_key():
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pipecat_realtime_openai.testing",
        "--port",
        "0",
        "--api-key",
        "sk-local",
        "--pace",
        "fast",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(30):
            line = (await process.stdout.readline()).decode()
        assert "listening on ws://127.0.0.1:" in line
        base_url = line.split("listening on ", 1)[1].strip()
        async with connect(
            f"{base_url}?model=gpt-realtime",
            additional_headers={"Authorization": "Bearer sk-local"},
        ) as ws:
            created = json.loads(await ws.recv())
            assert created["type"] == "session.created"
            assert created["session"]["model"] == "gpt-realtime"
        async with connect(
            f"{base_url}?model=gpt-realtime", additional_headers={"Authorization": "Bearer nope"}
        ) as ws:
            assert json.loads(await ws.recv())["error"]["code"] == "invalid_api_key"
    finally:
        process.terminate()
        await process.wait()
