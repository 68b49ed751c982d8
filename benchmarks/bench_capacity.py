"""Sessions per core: how many calls one process carries before latency grows.

Run: ``.venv/bin/python benchmarks/bench_capacity.py [--seconds 20] [--limit-ms 20]``.

A bot host packs sessions into a process until the audio starts to lag. For each service
(ours, Pipecat's built-in) this finds the most sessions one worker process carries at
real-time pace with a realistic turn pattern before the *added* latency p99 passes
``--limit-ms``. Every session streams its microphone all the time (16 kHz frames every
20 ms): ``--user-seconds`` of speech-level noise, then silence while the bot answers;
the simulator's server VAD ends each turn and answers it with ``--reply-seconds`` of
speech, streamed at real time. Sessions are staggered across the 20 ms frame period and
across the turn cycle, as real calls are.

Added latency is measured against the same service with one session (its own batching
is not load): the p99 over every audio chunk of every session, of the output path (the
simulator sent a delta -> its audio reached the end of the pipeline) and of the input
path (a frame was pushed -> its audio reached the simulator), the larger of the two
growths. A count also fails when reply audio never arrives. Each count runs
``--repeats`` times and the medians decide. Counts double until the
limit is passed, then bisect between the last count that held and the first that did
not. Each count runs in a fresh process; the simulator runs in its own
(``bench_sim.py``), as in ``bench_service.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_concurrent import SharedControl
from benchmarks.bench_service import run_json_process
from benchmarks.bench_stats import match_chunks, percentile

HERE = Path(__file__).resolve().parent
SERVICES = ("ours", "builtin")
FRAME_S = 0.02
PCM24K_BYTES_PER_MS = 48
INPUT_FRAME_MS = 20.0


def turn_frames(args: argparse.Namespace, index: int) -> list[Any]:
    """A call's microphone: speech, then silence while the bot answers, over and over.

    Each session starts somewhere else in the cycle, as real calls do.
    """
    from pipecat.frames.frames import InputAudioRawFrame

    from benchmarks.bench_pipeline import INPUT_RATE, input_frames

    speech = input_frames(args.user_seconds)
    quiet = InputAudioRawFrame(
        audio=bytes(INPUT_RATE * 2 * 20 // 1000), sample_rate=INPUT_RATE, num_channels=1
    )
    # The reply, the server's silence detection and a breath before the next turn.
    silence = [quiet] * int((args.reply_seconds + 1.0) * 1000 / INPUT_FRAME_MS)
    cycle = speech + silence
    count = int(args.seconds * 1000 / INPUT_FRAME_MS)
    shift = (index * len(cycle)) // max(args.sessions, 1)
    return [cycle[(shift + n) % len(cycle)] for n in range(count)]


async def _one_session(
    kind: str, url: str, control: Any, args: argparse.Namespace, index: int, go: asyncio.Event
) -> dict[str, Any]:
    """Run one session's call: the microphone all along; the server answers each turn."""
    from pipecat.frames.frames import EndFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.workers.runner import WorkerRunner

    from benchmarks.bench_pipeline import AudioSink, make_service, push_paced

    service = make_service(kind, url, 20, realtime=True, server_vad=True)
    sink = AudioSink(keep_arrivals=True)
    worker = PipelineWorker(
        Pipeline([service, sink]), cancel_on_idle_timeout=False, enable_rtvi=False
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.create_task(runner.run())
    conn = (await control.call(op="claim"))["conn"]
    frames = turn_frames(args, index)
    pushed_ns: list[int] = []
    await go.wait()
    await asyncio.sleep(index * FRAME_S / args.sessions)
    await push_paced(worker, frames, lambda: pushed_ns.append(time.monotonic_ns()))
    await control.call(op="wait_input", conn=conn, ms=args.seconds * 1000, quiet_s=0.3)
    await asyncio.sleep(args.reply_seconds + 1.0)  # a reply still streaming finishes
    server = await control.call(op="report", conn=conn)
    await worker.queue_frame(EndFrame())
    await run
    sent_ms = [n / PCM24K_BYTES_PER_MS for n in server["delta_bytes"]]
    output = match_chunks(server["delta_sent_ns"], sent_ms, sink.arrived_ns, sink.arrived_ms)
    arrived_ms = [n / PCM24K_BYTES_PER_MS for n in server["append_bytes"]]
    input_ = match_chunks(
        pushed_ns, [INPUT_FRAME_MS] * len(pushed_ns), server["append_received_ns"], arrived_ms
    )
    return {
        "output_ms": output.latencies_ms,
        "input_ms": input_.latencies_ms,
        # Reply audio that never reached the sink. (The built-in holds back the last
        # 40-80 ms of every input stream in its resampler: not a load effect.)
        "missing": output.missing,
        "replies": sink.audio_ms / 1000,
    }


async def worker_main(args: argparse.Namespace) -> None:
    """One measurement: ``--sessions`` sessions of one service in this process."""
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("BENCH_LOG_LEVEL", "ERROR"))
    from benchmarks.bench_pipeline import Control

    control = SharedControl(await Control.open(args.control_port))
    url = f"ws://127.0.0.1:{args.realtime_port}/v1/realtime"
    go = asyncio.Event()
    sessions = [
        asyncio.create_task(_one_session(args.service, url, control, args, index, go))
        for index in range(args.sessions)
    ]
    await asyncio.sleep(0.5 + 0.05 * args.sessions)  # every session connected and configured
    # The process's CPU, every session's together (one clock for the whole process).
    started = time.process_time()
    go.set()
    results = await asyncio.gather(*sessions)
    cpu = time.process_time() - started
    output = [ms for r in results for ms in r["output_ms"]]
    input_ = [ms for r in results for ms in r["input_ms"]]
    audio_s = args.seconds * args.sessions
    print(
        json.dumps(
            {
                "output_p99": percentile(output, 99) if output else 0.0,
                "input_p99": percentile(input_, 99) if input_ else 0.0,
                "missing": sum(r["missing"] for r in results),
                "reply_audio_s": sum(r["replies"] for r in results),
                "cpu_per_100s": cpu * 100 / audio_s,
            }
        ),
        flush=True,
    )


async def measure(service: str, sessions: int, ports: list[int], args: argparse.Namespace) -> Any:
    """Run ``sessions`` sessions of ``service`` in a fresh worker process."""
    command = [
        sys.executable,
        str(HERE / "bench_capacity.py"),
        "--worker",
        "--service",
        service,
        "--sessions",
        str(sessions),
        "--realtime-port",
        str(ports[1]),
        "--control-port",
        str(ports[2]),
        "--seconds",
        str(args.seconds),
        "--user-seconds",
        str(args.user_seconds),
        "--reply-seconds",
        str(args.reply_seconds),
    ]
    return await run_json_process(command, f"the {service} worker with {sessions} sessions")


def added_p99(result: dict[str, Any], baseline: dict[str, Any]) -> float:
    """The larger of the two paths' p99 growth over the one-session run."""
    return max(
        result["output_p99"] - baseline["output_p99"], result["input_p99"] - baseline["input_p99"]
    )


def holds(result: dict[str, Any], baseline: dict[str, Any], limit_ms: float) -> bool:
    """Whether a run carried its sessions: latency within the limit, no audio lost."""
    return result["missing"] == 0 and added_p99(result, baseline) <= limit_ms


async def capacity(
    service: str, ports: list[int], args: argparse.Namespace
) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
    """The most sessions ``service`` carries within the limit, and every run measured."""
    runs: list[tuple[int, dict[str, Any]]] = []

    async def run(count: int) -> dict[str, Any]:
        print(f"{service}: {count} sessions", file=sys.stderr)
        # One run's p99 moves by several ms with the machine's noise: the median of
        # ``--repeats`` runs decides.
        samples = [await measure(service, count, ports, args) for _ in range(args.repeats)]
        result = {
            key: statistics.median(sample[key] for sample in samples)
            for key in ("output_p99", "input_p99", "cpu_per_100s")
        }
        result["missing"] = max(sample["missing"] for sample in samples)
        runs.append((count, result))
        return result

    baseline = await run(1)
    good, bad = 1, None
    count = 2
    while count <= args.max_sessions:
        if holds(await run(count), baseline, args.limit_ms):
            good = count
            count *= 2
        else:
            bad = count
            break
    if bad is None:
        return good, runs
    while bad - good > max(1, good // 8):  # bisect to within an eighth
        middle = (good + bad) // 2
        if holds(await run(middle), baseline, args.limit_ms):
            good = middle
        else:
            bad = middle
    return good, runs


def table(results: dict[str, tuple[int, list[tuple[int, dict[str, Any]]]]], limit: float) -> str:
    """Sessions carried per service, then every run with its latencies."""
    ours, builtin = results["ours"][0], results["builtin"][0]
    lines = [
        "| metric | ours | built-in | ratio (ours / built-in) |",
        "|---|---:|---:|---:|",
        f"| Sessions one process carries, added latency p99 <= {limit:g} ms "
        f"| {ours} | {builtin} | {ours / builtin:.2f} |",
        "",
        "| service | sessions | output p99 (ms) | input p99 (ms) | added p99 (ms) "
        "| reply audio lost (chunks) | CPU s per 100 s per session |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for service, (_, runs) in results.items():
        baseline = runs[0][1]
        for count, run in runs:
            lines.append(
                f"| {service} | {count} | {run['output_p99']:.2f} | {run['input_p99']:.2f} "
                f"| {added_p99(run, baseline):.2f} | {run['missing']} "
                f"| {run['cpu_per_100s']:.3f} |"
            )
    return "\n".join(lines)


async def run_all(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.bench_service import start_simulator, stop_simulator

    simulator, ports = await start_simulator(20, "none", args.reply_seconds)
    try:
        return {service: await capacity(service, ports, args) for service in SERVICES}
    finally:
        await stop_simulator(simulator)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="each session's call (20)")
    parser.add_argument("--user-seconds", type=float, default=3.0, help="user turn (3)")
    parser.add_argument("--reply-seconds", type=float, default=4.0, help="bot reply (4)")
    parser.add_argument("--limit-ms", type=float, default=20.0, help="added p99 allowed (20)")
    parser.add_argument("--max-sessions", type=int, default=256, help="stop searching here")
    parser.add_argument("--repeats", type=int, default=3, help="runs per count, median (3)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--service", choices=SERVICES, help=argparse.SUPPRESS)
    parser.add_argument("--sessions", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--realtime-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--control-port", type=int, help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.worker:
        asyncio.run(worker_main(args))
        sys.stdout.flush()
        # The built-in service can leave a task that ignores cancellation behind, and
        # asyncio.run would wait for it forever; the results are out already.
        os._exit(0)
    print(table(asyncio.run(run_all(args)), args.limit_ms))


if __name__ == "__main__":
    main()
