"""Many sessions at real-time pace in one process: CPU per session on a loaded host.

Run: ``.venv/bin/python benchmarks/bench_concurrent.py [--sessions 10] [--seconds 8]``.

``bench_service.py`` measures one session per process. A bot host runs many sessions per
core, where one event-loop wake-up serves several sessions' frames; this benchmark
measures that case. For each path (output: a reply streamed by the simulator at real
time; input: 16 kHz frames pushed every 20 ms) and each service (ours, Pipecat's
built-in, and the do-nothing floor), one worker process runs ``--sessions`` pipelines
``[service, sink]`` side by side, their frames staggered across the 20 ms period, and
reports CPU seconds per 100 s of audio *per session*. Runs are interleaved (ours,
built-in, floor, ours, ...) and the table shows medians. The simulator runs in its own
process (``bench_sim.py``), as in ``bench_service.py``.
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

from benchmarks.bench_stats import Row, Statistic, estimate, markdown_table, median

HERE = Path(__file__).resolve().parent
SERVICES = ("ours", "builtin", "floor")
FRAME_S = 0.02


async def _one_session(
    kind: str, path: str, url: str, control: Any, seconds: float, offset_s: float, go: Any
) -> Any:
    """Build one pipeline, wait for ``go``, then stream one path's audio through it."""
    from pipecat.frames.frames import EndFrame, LLMContextFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.workers.runner import WorkerRunner

    from benchmarks.bench_pipeline import (
        AudioSink,
        FloorService,
        input_frames,
        make_service,
        push_paced,
    )

    service = make_service(kind, url, 20, realtime=True)
    sink = AudioSink(keep_arrivals=False)
    worker = PipelineWorker(
        Pipeline([service, sink]), cancel_on_idle_timeout=False, enable_rtvi=False
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.create_task(runner.run())
    conn = None if kind == "floor" else (await control.call(op="claim"))["conn"]
    frames = input_frames(seconds) if path == "input" else []
    await go.wait()
    await asyncio.sleep(offset_s)
    if path == "output":
        message = {"role": "user", "content": f"seconds={seconds}"}
        await worker.queue_frame(LLMContextFrame(LLMContext(messages=[message])))
        await sink.done.wait()
    else:
        await push_paced(worker, frames)
        if isinstance(service, FloorService):
            await service.wait_for_input(len(frames))
        else:
            await control.call(op="wait_input", conn=conn, ms=seconds * 1000, quiet_s=0.3)

    async def finish() -> None:
        if conn is not None:
            await control.call(op="report", conn=conn, timestamps=False)
        await worker.queue_frame(EndFrame())
        await run

    return finish


class SharedControl:
    """One control connection shared by every session: one request at a time."""

    def __init__(self, control: Any) -> None:
        self._control = control
        self._lock = asyncio.Lock()

    async def call(self, **request: Any) -> dict[str, Any]:
        async with self._lock:
            return await self._control.call(**request)


async def worker_main(args: argparse.Namespace) -> None:
    """One measurement: ``--sessions`` sessions of one service on one path."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    from benchmarks.bench_pipeline import Control

    control = SharedControl(await Control.open(args.control_port))
    url = f"ws://127.0.0.1:{args.realtime_port}/v1/realtime"
    go = asyncio.Event()
    sessions = [
        asyncio.create_task(
            _one_session(
                args.service,
                args.path,
                url,
                control,
                args.seconds,
                index * FRAME_S / args.sessions,
                go,
            )
        )
        for index in range(args.sessions)
    ]
    await asyncio.sleep(0.5)  # every session connected and configured
    start = time.process_time()
    go.set()
    finishers = await asyncio.gather(*sessions)
    cpu = time.process_time() - start
    await asyncio.gather(*(finish() for finish in finishers))
    print(json.dumps({"cpu_per_100s": cpu * 100 / (args.sessions * args.seconds)}), flush=True)


async def run_all(args: argparse.Namespace) -> dict[tuple[str, str], list[float]]:
    from benchmarks.bench_service import run_json_process, start_simulator, stop_simulator

    simulator, ports = await start_simulator(20, "none")
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for path in ("output", "input"):
            for round_index in range(args.rounds):
                for service in SERVICES:
                    print(
                        f"{path} round {round_index + 1}/{args.rounds}: {service}", file=sys.stderr
                    )
                    command = [
                        sys.executable,
                        str(HERE / "bench_concurrent.py"),
                        "--worker",
                        "--service",
                        service,
                        "--path",
                        path,
                        "--realtime-port",
                        str(ports[1]),
                        "--control-port",
                        str(ports[2]),
                        "--sessions",
                        str(args.sessions),
                        "--seconds",
                        str(args.seconds),
                    ]
                    result = await run_json_process(command, f"the {service} {path} worker")
                    samples.setdefault((service, path), []).append(result["cpu_per_100s"])
    finally:
        await stop_simulator(simulator)
    return samples


def table(samples: dict[tuple[str, str], list[float]], sessions: int) -> str:
    """Medians per service and path, whole pipeline and above the floor."""
    rows: list[Row] = []
    for path, label in (("output", "Output path"), ("input", "Input path")):
        groups = {f"{service}.cpu": samples[(service, path)] for service in SERVICES}
        floor = median(samples[("floor", path)])
        whole = f"{label}, {sessions} sessions at real-time pace (whole pipeline)"
        for name, statistic in (
            (whole, Statistic("cpu")),
            (f"... above the floor ({floor:.3f})", Statistic("cpu", kind="above", base="floor")),
        ):
            ours, builtin, interval = estimate(statistic, groups)
            rows.append(Row(name, ours, builtin, 3, interval=interval))
    lines = [markdown_table(rows), "", "CPU samples (s per 100 s of audio per session):", ""]
    for (service, path), values in sorted(samples.items()):
        lines.append(f"- {service} {path}: " + ", ".join(f"{v:.3f}" for v in values))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10, help="sessions per process (10)")
    parser.add_argument("--seconds", type=float, default=8.0, help="audio per session (8)")
    parser.add_argument("--rounds", type=int, default=5, help="runs per service and path (5)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--service", choices=SERVICES, help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=("output", "input"), help=argparse.SUPPRESS)
    parser.add_argument("--realtime-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--control-port", type=int, help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.worker:
        asyncio.run(worker_main(args))
        return
    samples = asyncio.run(run_all(args))
    print(table(samples, args.sessions))


if __name__ == "__main__":
    main()
