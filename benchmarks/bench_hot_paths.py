r"""The service's own work on the two audio hot paths, counted exactly.

Run: ``.venv/bin/python benchmarks/bench_hot_paths.py [--seconds 100] [--repeats 5]``.

A service runs in a real pipeline ``[service, sink]`` against the in-process simulator
(server turn detection off, so input never triggers replies). Two paths are driven
straight into the service, with nothing else running in between:

* **input**: ``--seconds`` of 16 kHz mono audio in 20 ms ``InputAudioRawFrame``\\ s, each
  awaited through ``service.process_frame`` (conversion, batching, the appends' JSON and
  their socket writes);
* **output**: a reply of ``--seconds`` of 24 kHz audio in 20 ms
  ``response.output_audio.delta`` messages, one message per batch (no merging), fed
  to the service's receive loop (parsing, base64, bookkeeping, frames to the sink).

For each path it reports, per 100 s of audio:

* **calls in the package**: Python function calls whose code lives in
  ``pipecat_realtime_openai`` (not its simulator), counted with ``sys.setprofile``:
  the same on every machine and every run;
* **calls in all**: every Python and C function call in the window (Pipecat's and the
  socket's included): nearly as steady;
* **CPU ms**: ``time.process_time`` without the profiler, the lowest of ``--repeats``.

The numbers before and after a change are in ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loguru import logger
from pipecat.frames.frames import LLMFullResponseEndFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection
from pipecat.workers.runner import WorkerRunner

from benchmarks.bench_counters import CallCounter
from benchmarks.bench_pipeline import AudioSink, input_frames, make_service
from pipecat_realtime_openai.testing import RealtimeSimulator

FRAME_MS = 20
OUTPUT_BYTES_PER_FRAME = 24 * 2 * FRAME_MS


class Batches:
    """Stands in for a connection: yields one message per batch."""

    def __init__(self, messages: list[str]) -> None:
        self._messages = messages

    async def message_batches(self, max_batch: int = 32) -> AsyncIterator[list[str]]:
        for message in self._messages:
            yield [message]


def reply_messages(seconds: float, response_id: str) -> list[str]:
    """``response.created``, the audio deltas of one item, ``response.done``."""
    delta = base64.b64encode(bytes(OUTPUT_BYTES_PER_FRAME)).decode("ascii")
    part = {"response_id": response_id, "item_id": "item_b", "output_index": 0}
    created = {"type": "response.created", "event_id": "e0", "response": {"id": response_id}}
    messages = [json.dumps(created)]
    for i in range(int(seconds * 1000 / FRAME_MS)):
        event = {"type": "response.output_audio.delta", "event_id": f"e{i + 1}", **part}
        messages.append(json.dumps({**event, "content_index": 0, "delta": delta}))
    done = {"id": response_id, "status": "completed", "output": []}
    messages.append(json.dumps({"type": "response.done", "event_id": "ez", "response": done}))
    return messages


def receiver(service: Any) -> Callable[[Any], Awaitable[None]]:
    """The service's receive loop, fed a stand-in connection."""
    return service.supervisor.receive


async def measure(args: argparse.Namespace) -> dict[str, float]:
    scale = 100.0 / args.seconds
    frames = input_frames(args.seconds)
    results: dict[str, float] = {}
    async with RealtimeSimulator() as simulator:
        service = make_service("ours", simulator.base_url, FRAME_MS, realtime=False)
        sink = AudioSink(keep_arrivals=False)
        worker = PipelineWorker(
            Pipeline([service, sink]), params=PipelineParams(), enable_rtvi=False
        )
        runner = WorkerRunner()
        await runner.add_workers(worker)
        run = asyncio.create_task(runner.run())
        conn = await simulator.wait_for_connection()
        await conn.wait_for_server_event("session.updated")
        await asyncio.sleep(0.2)
        receive = receiver(service)

        async def push_input() -> None:
            for frame in frames:
                await service.process_frame(frame, FrameDirection.DOWNSTREAM)

        replies = iter(range(10_000))

        async def play_reply() -> None:
            await receive(Batches(reply_messages(args.seconds, f"resp_{next(replies)}")))

        for name, work in (("input", push_input), ("output", play_reply)):
            counter = CallCounter()
            await counter.count(work)
            await asyncio.sleep(0.2)  # let the simulator catch up outside the window
            results[f"{name}_calls_package"] = counter.package * scale
            results[f"{name}_calls_total"] = counter.total * scale
            cpu = []
            for _ in range(args.repeats):
                start = time.process_time()
                await work()
                cpu.append(time.process_time() - start)
                await asyncio.sleep(0.2)
            results[f"{name}_cpu_ms"] = min(cpu) * 1000 * scale
        await worker.queue_frame(LLMFullResponseEndFrame())
        await worker.cancel()
        await run
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=100.0, help="audio per path (100)")
    parser.add_argument("--repeats", type=int, default=5, help="CPU samples per path (5)")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    results = asyncio.run(measure(args))
    print(json.dumps(results))
    print("| path | calls in the package | calls in all | CPU ms (lowest) |", file=sys.stderr)
    print("|---|---:|---:|---:|", file=sys.stderr)
    for name in ("input", "output"):
        print(
            f"| {name} | {results[f'{name}_calls_package']:.0f} | "
            f"{results[f'{name}_calls_total']:.0f} | {results[f'{name}_cpu_ms']:.1f} |",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
