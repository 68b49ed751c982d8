"""Reconnect downtime of ``OpenAIRealtimeLLMService`` against the local simulator.

The simulator runs in a child process (``--serve``), so its work does not share the
client's event loop. The client holds a typical conversation (typed turns and a tool
round), then the simulator aborts the connection ``--drops`` times, each time once the
previous restore finished. For each drop it measures:

* downtime: from the moment the simulator aborted the socket (its CLOCK_MONOTONIC,
  which every process on Linux shares) until the service had a configured session with
  the conversation restored (``on_reconnected``);
* the service's own downtime figure (from noticing the drop), as reported to
  ``on_reconnected``.

It prints p50/p90/p99/max of both, and the client events the restore sent on the last
connection, in order (audio appends collapsed).

    .venv/bin/python benchmarks/bench_reconnect.py            # 100 drops, ~10 s
    .venv/bin/python benchmarks/bench_reconnect.py --drops 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loguru import logger

from benchmarks.bench_stats import percentile

_READY = "READY"


# -- the simulator process -----------------------------------------------------------


async def serve() -> None:
    """Run a simulator and a line-based control port; print ``READY <ws> <control>``."""
    from pipecat_realtime_openai.testing import (
        FunctionCall,
        RealtimeSimulator,
        Reply,
        ResponseContext,
    )

    class Responder:
        def reply(self, context: ResponseContext) -> Reply:
            if "weather" in (context.last_user_text or "") and not context.function_outputs:
                return Reply(function_calls=[FunctionCall("get_weather", {"city": "Oslo"})])
            return Reply(text="Sure, here you go.")

    sim = RealtimeSimulator(responder=Responder())
    await sim.start()

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            command = line.decode().strip()
            conn = sim.connections[-1]
            if command == "drop":
                dropped_at = time.monotonic()
                conn.drop()
                answer: Any = dropped_at
            elif command == "events":
                answer = conn.client_event_types
            else:
                answer = f"unknown command {command!r}"
            writer.write((json.dumps(answer) + "\n").encode())
            await writer.drain()

    server = await asyncio.start_server(control, "127.0.0.1", 0)
    control_port = server.sockets[0].getsockname()[1]
    print(f"{_READY} {sim.base_url} {control_port}", flush=True)
    await asyncio.Event().wait()


# -- the client process --------------------------------------------------------------


class Control:
    """The simulator process's control port."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def ask(self, command: str) -> Any:
        self._writer.write((command + "\n").encode())
        await self._writer.drain()
        return json.loads(await self._reader.readline())


async def run_client(base_url: str, control: Control, drops: int) -> dict[str, Any]:
    """Talk, then drop the connection `drops` times; return the measurements."""
    from pipecat.frames.frames import EndFrame, LLMFullResponseEndFrame, LLMMessagesAppendFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.services.llm_service import FunctionCallParams
    from pipecat.workers.runner import WorkerRunner

    from pipecat_realtime_openai import OpenAIRealtimeLLMService
    from pipecat_realtime_openai.core.reconnect import ReconnectInfo, ReconnectOptions

    class Answers(FrameProcessor):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0
            self.changed = asyncio.Event()

        async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, LLMFullResponseEndFrame):
                self.count += 1
                self.changed.set()
            await self.push_frame(frame, direction)

        async def wait(self, count: int) -> None:
            while self.count < count:
                self.changed.clear()
                await self.changed.wait()

    service = OpenAIRealtimeLLMService(
        api_key="sk-bench",
        base_url=base_url,
        reconnect=ReconnectOptions(max_session_duration=None),
    )

    async def get_weather(params: FunctionCallParams) -> None:
        await params.result_callback({"sky": "snow", "celsius": -3})

    service.register_function("get_weather", get_weather)
    restored: asyncio.Queue[tuple[float, ReconnectInfo]] = asyncio.Queue()

    @service.event_handler("on_reconnected")
    async def _reconnected(service: Any, info: ReconnectInfo) -> None:
        restored.put_nowait((time.monotonic(), info))

    answers = Answers()
    worker = PipelineWorker(
        Pipeline([service, answers]), params=PipelineParams(), cancel_on_idle_timeout=False
    )
    runner = WorkerRunner()
    await runner.add_workers(worker)
    run = asyncio.create_task(runner.run())
    turns = ["Hello!", "What's the weather in Oslo?", "Thanks. And tomorrow?"]
    expected = 0
    for text in turns:
        message = {"role": "user", "content": text}
        await worker.queue_frame(LLMMessagesAppendFrame(messages=[message], run_llm=True))
        expected += 2 if "weather" in text else 1
        await asyncio.wait_for(answers.wait(expected), 10)
    total: list[float] = []
    reported: list[float] = []
    for _ in range(drops):
        dropped_at = await control.ask("drop")
        at, info = await asyncio.wait_for(restored.get(), 10)
        total.append((at - dropped_at) * 1000)
        reported.append(info.downtime * 1000)
    events = await control.ask("events")
    await worker.queue_frame(EndFrame())
    await asyncio.wait_for(run, 10)
    return {"total_ms": total, "reported_ms": reported, "restore_events": events}


def collapse(types: list[str]) -> list[str]:
    """Event types in order, runs of the same type written once with a count."""
    out: list[str] = []
    for kind in types:
        if out and out[-1].split(" x")[0] == kind:
            base, _, count = out[-1].partition(" x")
            out[-1] = f"{base} x{int(count or 1) + 1}"
        else:
            out.append(kind)
    return out


def summary(name: str, values: list[float]) -> str:
    """One table row of percentiles, in milliseconds."""
    cells = [percentile(values, p) for p in (50, 90, 99)] + [max(values)]
    return f"| {name} | " + " | ".join(f"{v:.1f}" for v in cells) + " |"


async def main_async(drops: int) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = (await child.stdout.readline()).decode().split()
        if not line or line[0] != _READY:
            raise RuntimeError("the simulator process did not start")
        reader, writer = await asyncio.open_connection("127.0.0.1", int(line[2]))
        results = await run_client(line[1], Control(reader, writer), drops)
        writer.close()
    finally:
        child.terminate()
        await child.wait()
    print(f"Reconnect downtime over {drops} drops (ms), simulator in its own process\n")
    print("| measure | p50 | p90 | p99 | max |\n|---|---|---|---|---|")
    print(summary("socket aborted -> conversation restored", results["total_ms"]))
    print(summary("as reported to on_reconnected", results["reported_ms"]))
    print("\nClient events on the last connection (restore, in order):")
    for kind in collapse(results["restore_events"]):
        print(f"  {kind}")


def main() -> None:
    """Parse arguments and run the benchmark (or, with ``--serve``, the simulator)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=100, help="connections to drop")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--verbose", action="store_true", help="keep the service's logs")
    args = parser.parse_args()
    if not args.verbose:
        logger.remove()
        logger.add(sys.stderr, level="ERROR")
    asyncio.run(serve() if args.serve else main_async(args.drops))


if __name__ == "__main__":
    main()
