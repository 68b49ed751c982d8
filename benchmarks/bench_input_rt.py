"""The input path at real-time pace, the three services taking turns in one process.

Run: ``.venv/bin/python benchmarks/bench_input_rt.py [--rounds 8] [--seconds 10]``.

``bench_service.py`` measures the real-time input path once per worker process, inside
its latency run (5 s of audio). This benchmark measures only that path, with more and
longer samples: one process runs the floor, ours and the built-in service in turn,
round after round, each pushing ``--seconds`` of 16 kHz audio in 20 ms frames at real
time into a fresh pipeline ``[service, sink]``. Taking turns in one process puts the
three under the same machine conditions at nearly the same time, which matters on a
shared host where a single process's CPU clock drifts by 20-30 % between runs. It
prints CPU seconds per 100 s of audio (medians), whole pipeline and above the floor,
and every sample.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_stats import Row, Statistic, estimate, markdown_table, median

SERVICES = ("floor", "ours", "builtin")
FRAME_S = 0.02


async def one_run(kind: str, url: str, control: Any, frames: list[Any]) -> float:
    """CPU seconds per 100 s of audio for one paced input run of one service."""
    from pipecat.frames.frames import EndFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.workers.runner import WorkerRunner

    from benchmarks.bench_pipeline import AudioSink, FloorService, make_service, push_paced

    service = make_service(kind, url, 20, realtime=True)
    worker = PipelineWorker(
        Pipeline([service, AudioSink(keep_arrivals=False)]),
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.create_task(runner.run())
    conn = None if kind == "floor" else (await control.call(op="claim"))["conn"]
    await asyncio.sleep(0.05)
    start_cpu = time.process_time()
    await push_paced(worker, frames)
    seconds = len(frames) * FRAME_S
    if isinstance(service, FloorService):
        await service.wait_for_input(len(frames))
    else:
        await control.call(op="wait_input", conn=conn, ms=seconds * 1000, quiet_s=0.3)
    cpu = time.process_time() - start_cpu
    if conn is not None:
        await control.call(op="report", conn=conn, timestamps=False)
    await worker.queue_frame(EndFrame())
    await run
    return cpu * 100 / seconds


async def run_all(args: argparse.Namespace) -> dict[str, list[float]]:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    from benchmarks.bench_pipeline import Control, input_frames
    from benchmarks.bench_service import start_simulator, stop_simulator

    frames = input_frames(args.seconds)
    simulator, ports = await start_simulator(20, "none")
    samples: dict[str, list[float]] = {service: [] for service in SERVICES}
    try:
        control = await Control.open(ports[2])
        url = f"ws://127.0.0.1:{ports[0]}/v1/realtime"
        for round_index in range(args.rounds):
            for service in SERVICES:
                print(f"round {round_index + 1}/{args.rounds}: {service}", file=sys.stderr)
                samples[service].append(await one_run(service, url, control, frames))
        await control.close()
    finally:
        await stop_simulator(simulator)
    return samples


def table(samples: dict[str, list[float]]) -> str:
    """Medians, whole pipeline and above the floor, then every sample."""
    groups = {f"{service}.cpu": samples[service] for service in ("ours", "builtin", "floor")}
    floor = median(samples["floor"])
    rows = []
    for name, statistic in (
        ("Input path at real-time pace, CPU s per 100 s (whole pipeline)", Statistic("cpu")),
        (f"... above the floor ({floor:.3f})", Statistic("cpu", kind="above", base="floor")),
    ):
        ours, builtin, interval = estimate(statistic, groups)
        rows.append(Row(name, ours, builtin, interval=interval))
    lines = [markdown_table(rows), "", "CPU samples (s per 100 s of audio, in run order):", ""]
    lines += [f"- {s}: " + ", ".join(f"{v:.3f}" for v in samples[s]) for s in SERVICES]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="runs per service (8)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per run (10)")
    args = parser.parse_args()
    print(table(asyncio.run(run_all(args))))


if __name__ == "__main__":
    main()
