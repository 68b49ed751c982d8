"""Both audio paths at real-time pace, the services taking turns in one process.

Run: ``.venv/bin/python benchmarks/bench_rt.py [--rounds 20] [--seconds 10]``.

``bench_service.py`` measures each real-time path once per worker process (one sample
per round, each service in its own process). This benchmark measures only the
real-time paths, with many samples under matched conditions: one process runs every
service in turn, round after round, each in a fresh pipeline ``[service, sink]``:

* input: the floor (`FloorService`), ours and the built-in each push ``--seconds`` of
  16 kHz audio in 20 ms frames at real time; the CPU runs until the simulator has all
  of it (the floor: until its last frame went through);
* output: the wire floor (`WireFloorService`), ours and the built-in each receive a
  reply of ``--seconds`` of audio that the simulator streams at real time; the CPU runs
  from the first audio frame at the sink to the end of the response.

Taking turns in one process puts the services under the same machine conditions at
nearly the same time, which matters on a shared host where a process's CPU clock drifts
by 20-30 % (and, over minutes, by up to 3x) between runs. So the rounds are paired:
each round is divided by its floor's run before the ratios are taken, and the intervals
draw whole rounds (`bench_stats.paired_estimate`). Besides each service's CPU, whole and
above its floor, the table shows the floor against the built-in: what a service that
cost nothing above the floor would be, the best ratio any service on this floor can
reach. With both paths, it adds a call: the input path all along and the output path
``--reply-share`` of the time (half, as in ``bench_capacity.py``'s turns).

``--only SERVICE`` runs one service's rounds alone and prints only its samples: a
process to attach a sampling profiler to (``py-spy record -- python bench_rt.py --only
ours --paths output``), so the profile holds that service's real-time runs and nothing
else.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_stats import (
    Row,
    Statistic,
    cpu_per_100s,
    markdown_table,
    median,
    paired_estimate,
)

PATHS = {"input": ("floor", "ours", "builtin"), "output": ("wire", "ours", "builtin")}
"""The services of each path, in the order they take turns; the first is the floor."""
FRAME_S = 0.02
REPLY_TIMEOUT_S = 120.0


async def _running(service: Any, sink: Any) -> tuple[Any, asyncio.Task]:
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.workers.runner import WorkerRunner

    worker = PipelineWorker(
        Pipeline([service, sink]), cancel_on_idle_timeout=False, enable_rtvi=False
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    return worker, asyncio.create_task(runner.run())


async def _finish(worker: Any, run: asyncio.Task) -> None:
    from pipecat.frames.frames import EndFrame

    await worker.queue_frame(EndFrame())
    await run


async def input_run(kind: str, url: str, control: Any, frames: list[Any]) -> float:
    """CPU seconds per 100 s of audio for one paced input run of one service."""
    from benchmarks.bench_pipeline import AudioSink, FloorService, make_service, push_paced

    service = make_service(kind, url, 20, realtime=True)
    worker, run = await _running(service, AudioSink(keep_arrivals=False))
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
    await _finish(worker, run)
    return cpu_per_100s(cpu, seconds * 1000)


async def output_run(kind: str, url: str, control: Any, seconds: float) -> float:
    """CPU seconds per 100 s of audio for one real-time reply to one service."""
    from pipecat.frames.frames import LLMContextFrame
    from pipecat.processors.aggregators.llm_context import LLMContext

    from benchmarks.bench_pipeline import AudioSink, make_service

    sink = AudioSink(keep_arrivals=False)
    worker, run = await _running(make_service(kind, url, 20, realtime=True), sink)
    conn = (await control.call(op="claim"))["conn"]
    await asyncio.sleep(0.05)
    message = {"role": "user", "content": f"seconds={seconds}"}
    await worker.queue_frame(LLMContextFrame(LLMContext(messages=[message])))
    async with asyncio.timeout(REPLY_TIMEOUT_S):
        await sink.done.wait()
    if sink.first_cpu is None:
        raise RuntimeError(f"{kind}: the reply had no audio")
    cpu = sink.end_cpu - sink.first_cpu
    await control.call(op="report", conn=conn, timestamps=False)
    await _finish(worker, run)
    return cpu_per_100s(cpu, sink.audio_ms)


async def run_all(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """Every round of every path: the samples by path, then by service, in run order."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    from benchmarks.bench_pipeline import Control, input_frames
    from benchmarks.bench_service import start_simulator, stop_simulator

    frames = input_frames(args.seconds)
    simulator, ports = await start_simulator(20, "none")
    paths = args.paths.split(",")
    samples = {path: {service: [] for service in services(path, args.only)} for path in paths}
    try:
        control = await Control.open(ports[2])
        fast_url = f"ws://127.0.0.1:{ports[0]}/v1/realtime"
        realtime_url = f"ws://127.0.0.1:{ports[1]}/v1/realtime"
        for round_index in range(args.rounds):
            for path in paths:
                for service in samples[path]:
                    print(
                        f"round {round_index + 1}/{args.rounds}: {path} {service}", file=sys.stderr
                    )
                    if path == "input":
                        value = await input_run(service, fast_url, control, frames)
                    else:
                        value = await output_run(service, realtime_url, control, args.seconds)
                    samples[path][service].append(value)
        await control.close()
    finally:
        await stop_simulator(simulator)
    return samples


def services(path: str, only: str | None) -> tuple[str, ...]:
    """The services that take turns on ``path``: all of them, or ``only``."""
    return PATHS[path] if only is None else (only,)


def sample_lines(samples: dict[str, dict[str, list[float]]]) -> list[str]:
    """One ``- <path> <service>: ...`` line per service (``--from-samples`` reads them)."""
    return [
        f"- {path} {service}: " + ", ".join(f"{v:.3f}" for v in values)
        for path, by_service in samples.items()
        for service, values in by_service.items()
    ]


def paired_rows(groups: dict[str, list[float]], title: str, base_name: str) -> list[Row]:
    """Whole, above the floor, and the floor against the built-in, rounds kept paired.

    Args:
        groups: ``ours.cpu``, ``builtin.cpu`` and ``floor.cpu``, one sample per round.
        title: The first row's name.
        base_name: What the floor is, in the other rows' names.
    """
    floor = median(groups["floor.cpu"])
    rows = []
    for name, statistic in (
        (title, Statistic("cpu")),
        (f"... above {base_name} ({floor:.3f})", Statistic("cpu", kind="above", base="floor")),
    ):
        ours, builtin, value, interval = paired_estimate(statistic, groups, "floor")
        rows.append(Row(name, ours, builtin, interval=interval, value=value))
    # The floor in the "ours" column: the ratio is the best any service could reach.
    best = {**groups, "ours.cpu": groups["floor.cpu"]}
    low, high, value, interval = paired_estimate(Statistic("cpu"), best, "floor")
    name = f"... {base_name} alone (the best ratio possible)"
    rows.append(Row(name, low, high, interval=interval, value=value))
    return rows


_TITLES = {
    "input": ("Input path", "floor", "the floor"),
    "output": ("Output path", "wire", "the floor and the WebSocket receive"),
}


def path_rows(path: str, samples: dict[str, list[float]]) -> list[Row]:
    """The rows of one path."""
    title, base, base_name = _TITLES[path]
    groups = {
        "ours.cpu": samples["ours"],
        "builtin.cpu": samples["builtin"],
        "floor.cpu": samples[base],
    }
    return paired_rows(
        groups, f"{title} at real-time pace, CPU s per 100 s (whole pipeline)", base_name
    )


def call_rows(samples: dict[str, dict[str, list[float]]], reply_share: float) -> list[Row]:
    """A call's CPU: the input path all the time, the output path ``reply_share`` of it.

    Each round's call is its input sample plus ``reply_share`` times its output sample
    (the floor's: the input floor plus the wire floor), so the rounds stay paired. If
    sessions per core are bound by CPU, the floor row's inverse ratio is the most
    sessions any service on this floor could carry against the built-in.
    """

    def call(input_service: str, output_service: str) -> list[float]:
        inputs = samples["input"][input_service]
        outputs = samples["output"][output_service]
        return [i + reply_share * o for i, o in zip(inputs, outputs, strict=True)]

    groups = {
        "ours.cpu": call("ours", "ours"),
        "builtin.cpu": call("builtin", "builtin"),
        "floor.cpu": call("floor", "wire"),
    }
    title = f"A call (input all along, output {reply_share:.0%} of it), CPU s per 100 s"
    return paired_rows(groups, title, "the floors")


def table(samples: dict[str, dict[str, list[float]]], reply_share: float = 0.5) -> str:
    """The rows of each path measured (and of a call, with both), then every sample."""
    rows = [row for path, by_service in samples.items() for row in path_rows(path, by_service)]
    lengths = {len(values) for by_service in samples.values() for values in by_service.values()}
    if samples.keys() == set(PATHS) and len(lengths) == 1:
        rows += call_rows(samples, reply_share)
    lines = [markdown_table(rows), "", "CPU samples (s per 100 s of audio, in run order):", ""]
    return "\n".join(lines + sample_lines(samples))


def samples_from_text(text: str) -> dict[str, dict[str, list[float]]]:
    """Read back the sample lines of an earlier table (``- <path> <service>: ...``)."""
    samples: dict[str, dict[str, list[float]]] = {}
    for line in text.splitlines():
        parts = line.removeprefix("- ").split(":", 1)
        words = parts[0].split()
        if len(parts) != 2 or len(words) != 2 or words[0] not in PATHS:
            continue
        path, service = words
        values = [float(value) for value in parts[1].split(",")]
        samples.setdefault(path, {})[service] = values
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="runs per service (20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per run (10)")
    parser.add_argument(
        "--paths", default="input,output", help="input, output or both (input,output)"
    )
    parser.add_argument(
        "--reply-share",
        type=float,
        default=0.5,
        help="share of a call the bot speaks, for the call rows (0.5: bench_capacity.py's turns)",
    )
    parser.add_argument(
        "--only",
        help="run this service alone (for a profiler) and print its samples, no table",
    )
    parser.add_argument(
        "--from-samples",
        type=Path,
        help="print the table of the samples in an earlier output instead of measuring",
    )
    args = parser.parse_args()
    if args.from_samples is not None:
        print(table(samples_from_text(args.from_samples.read_text()), args.reply_share))
        return
    for path in args.paths.split(","):
        if path not in PATHS:
            parser.error(f"unknown path {path!r}: choose from {', '.join(PATHS)}")
        if args.only is not None and args.only not in PATHS[path]:
            parser.error(f"no {args.only!r} on the {path} path: choose from {PATHS[path]}")
    samples = asyncio.run(run_all(args))
    if args.only is not None:
        print("\n".join(sample_lines(samples)))
        return
    print(table(samples, args.reply_share))


if __name__ == "__main__":
    main()
