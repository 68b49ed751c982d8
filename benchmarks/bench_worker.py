"""One benchmark run of one service: ``bench_service.py`` starts one per service per round.

A fresh process per run keeps the services from sharing caches, garbage or peak RSS. The
run measures, each scenario in a fresh pipeline ``[service, AudioSink]`` and session:

1. output CPU (``--repeats`` times): a reply of ``--seconds`` of audio, streamed as fast
   as possible;
2. input CPU (``--repeats`` times): ``--seconds`` of 16 kHz mono audio in 20 ms frames,
   pushed at once;
3. output latency: a reply of ``--latency-seconds``, streamed at real time;
4. input latency: ``--latency-seconds`` of the same, pushed at real time;
5. memory: tracemalloc peaks while streaming ``--memory-seconds`` each way;
6. calls: Python function calls of one fast run each way (``sys.setprofile``).

The real-time runs (3 and 4) also count event-loop wake-ups and socket writes
(``bench_counters.py``): figures the machine's noise barely moves.

``--service floor`` runs 1 to 4 with `FloorService` in place of a service (CPU only: it
has no latency to measure); ``--service wire`` runs 1 and 3 with `WireFloorService`.

It prints one JSON line with the raw results; the parent does the statistics.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loguru import logger
from pipecat.frames.frames import EndFrame, LLMContextFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.workers.runner import WorkerRunner

from benchmarks.bench_counters import (
    OURS,
    OURS_SIMULATOR,
    CallCounter,
    builtin_package,
    loop_counts,
)
from benchmarks.bench_pipeline import (
    FRAME_MS,
    AudioSink,
    Control,
    FloorService,
    input_frames,
    make_service,
    push_paced,
)
from benchmarks.bench_stats import match_chunks

PCM24K_BYTES_PER_MS = 48
STEP_TIMEOUT_S = 120.0


class Session:
    """A running pipeline ``[service, sink]`` and its simulator connection id."""

    def __init__(
        self, worker: PipelineWorker, service: FrameProcessor, sink: AudioSink, conn: int
    ) -> None:
        self.worker = worker
        self.service = service
        self.sink = sink
        self.conn = conn


class Bench:
    """Runs the scenarios for one service."""

    def __init__(self, args: argparse.Namespace, control: Control) -> None:
        self.args = args
        self.control = control
        self.fast_url = f"ws://127.0.0.1:{args.fast_port}/v1/realtime"
        self.realtime_url = f"ws://127.0.0.1:{args.realtime_port}/v1/realtime"
        self.frames = input_frames(max(args.seconds, args.latency_seconds, args.memory_seconds))
        self.floor = args.service == "floor"
        self.wire = args.service == "wire"
        self.profilers: dict[str, cProfile.Profile] = {}
        # Writes to these ports are the service's (the control socket's are not).
        self.sim_ports = {args.fast_port, args.realtime_port}

    async def report(self, session: Session) -> dict[str, Any]:
        """The simulator's timestamps of the session (none for the floor)."""
        if self.floor:
            keys = ("delta_sent_ns", "delta_bytes", "append_received_ns", "append_bytes")
            return {key: [] for key in keys}
        return await self.control.call(op="report", conn=session.conn)

    async def drop_record(self, session: Session) -> None:
        """Tell the simulator to forget the connection's timestamps."""
        if not self.floor:
            await self.control.call(op="report", conn=session.conn, timestamps=False)

    @asynccontextmanager
    async def session(
        self, url: str, keep_arrivals: bool = False, turn_audio: bool = True
    ) -> AsyncIterator[Session]:
        sink = AudioSink(keep_arrivals)
        realtime = url == self.realtime_url
        service = make_service(
            self.args.service, url, self.args.chunk_ms, realtime, turn_audio=turn_audio
        )
        pipeline = Pipeline([service, sink])
        worker = PipelineWorker(pipeline, cancel_on_idle_timeout=False, enable_rtvi=False)
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        run = asyncio.create_task(runner.run())
        try:
            # The floor has no connection; a service's is ready once session.updated went.
            conn = 0 if self.floor else (await self.control.call(op="claim"))["conn"]
            yield Session(worker, service, sink, conn)
        finally:
            await worker.queue_frame(EndFrame())
            try:
                async with asyncio.timeout(10):
                    await run
            except TimeoutError:
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)

    @contextmanager
    def profiled(self, path: str) -> Iterator[None]:
        """Add the block to the cProfile stats of `path` when profiling was asked for."""
        if self.args.profile is None:
            yield
            return
        profiler = self.profilers.setdefault(path, cProfile.Profile())
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()

    def dump_profiles(self) -> None:
        """Write ``<profile dir>/<service>-<path>.pstats`` for each profiled path."""
        for path, profiler in self.profilers.items():
            folder = Path(self.args.profile)
            folder.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(folder / f"{self.args.service}-{path}.pstats")

    async def reply(self, session: Session, seconds: float) -> None:
        message = {"role": "user", "content": f"seconds={seconds}"}
        await session.worker.queue_frame(LLMContextFrame(LLMContext(messages=[message])))
        async with asyncio.timeout(STEP_TIMEOUT_S):
            await session.sink.done.wait()

    async def output_cpu(self) -> dict[str, Any]:
        async with self.session(self.fast_url) as session:
            with self.profiled("output"):
                await self.reply(session, self.args.seconds)
            await self.drop_record(session)
        sink = session.sink
        assert sink.first_cpu is not None
        return {
            "cpu_s": sink.end_cpu - sink.first_cpu,
            "wall_s": sink.end_wall - sink.first_wall,
            "audio_ms": sink.audio_ms,
            "frames": sink.audio_frames,
        }

    async def output_latency(self) -> dict[str, Any]:
        async with self.session(self.realtime_url, keep_arrivals=True) as session:
            with loop_counts(self.sim_ports) as counts:
                await self.reply(session, self.args.latency_seconds)
            server = await self.report(session)
        sink = session.sink
        assert sink.first_cpu is not None
        sent_ms = [n / PCM24K_BYTES_PER_MS for n in server["delta_bytes"]]
        matched = match_chunks(server["delta_sent_ns"], sent_ms, sink.arrived_ns, sink.arrived_ms)
        return {
            "latencies_ms": matched.latencies_ms,
            "missing": matched.missing,
            "cpu_s": sink.end_cpu - sink.first_cpu,
            "audio_ms": sink.audio_ms,
            "wakeups": counts.wakeups,
            "writes": counts.writes,
        }

    async def push_input(self, session: Session, seconds: float, paced: bool) -> list[int]:
        frames = self.frames[: int(seconds * 1000 / FRAME_MS)]
        pushed_ns: list[int] = []
        if paced:
            await push_paced(session.worker, frames, lambda: pushed_ns.append(time.monotonic_ns()))
        else:
            for frame in frames:
                await session.worker.queue_frame(frame)
        return pushed_ns

    async def wait_input(self, session: Session, seconds: float) -> dict[str, Any]:
        if isinstance(session.service, FloorService):
            await session.service.wait_for_input(int(seconds * 1000 / FRAME_MS))
            return {"received_ms": seconds * 1000}
        # Returns once all the audio arrived, or none arrived for a while (what a
        # service holds back forever never arrives).
        return await self.control.call(
            op="wait_input", conn=session.conn, ms=seconds * 1000, quiet_s=0.3
        )

    async def input_cpu(self) -> dict[str, Any]:
        seconds = self.args.seconds
        async with self.session(self.fast_url) as session:
            with self.profiled("input"):
                start = time.process_time()
                await self.push_input(session, seconds, paced=False)
                received = await self.wait_input(session, seconds)
                cpu = time.process_time() - start
            await self.drop_record(session)
        return {
            "cpu_s": cpu,
            "audio_ms": seconds * 1000,
            "received_ms": received["received_ms"],
            "appends": received.get("appends"),
        }

    async def input_latency(self) -> dict[str, Any]:
        seconds = self.args.latency_seconds
        async with self.session(self.fast_url) as session:
            start = time.process_time()
            with loop_counts(self.sim_ports) as counts:
                pushed_ns = await self.push_input(session, seconds, paced=True)
                await self.wait_input(session, seconds)
            cpu = time.process_time() - start
            server = await self.report(session)
        arrived_ms = [n / PCM24K_BYTES_PER_MS for n in server["append_bytes"]]
        matched = match_chunks(
            pushed_ns, [FRAME_MS] * len(pushed_ns), server["append_received_ns"], arrived_ms
        )
        return {
            "latencies_ms": matched.latencies_ms,
            "missing": matched.missing,
            "cpu_s": cpu,
            "audio_ms": seconds * 1000,
            "wakeups": counts.wakeups,
            "writes": counts.writes,
        }

    async def calls(self) -> dict[str, Any]:
        """Python function calls of one fast output and one fast input run, counted.

        The service's own calls are those whose code lives in its package (ours without
        its simulator; for the built-in, ``pipecat/services/openai/realtime``).
        """
        if self.args.service == "ours":
            counter_args = (OURS, OURS_SIMULATOR)
        else:
            counter_args = (builtin_package(), "\0")
        seconds = self.args.seconds
        results: dict[str, Any] = {"audio_ms": seconds * 1000}
        async with self.session(self.fast_url) as session:
            counter = CallCounter(*counter_args)
            await counter.count(lambda: self.reply(session, seconds))
            results["output_service"], results["output_total"] = counter.package, counter.total
            await self.drop_record(session)
        async with self.session(self.fast_url) as session:
            counter = CallCounter(*counter_args)
            await counter.count(lambda: self.push_all(session, seconds))
            results["input_service"], results["input_total"] = counter.package, counter.total
            await self.drop_record(session)
        return results

    async def push_all(self, session: Session, seconds: float) -> None:
        """Push ``seconds`` of input at once and wait until the server has it."""
        await self.push_input(session, seconds, paced=False)
        await self.wait_input(session, seconds)

    @staticmethod
    async def traced_growth(step: Awaitable[Any]) -> int:
        """How far the traced peak rose above the memory in use while ``step`` ran.

        tracemalloc must be running, its peak reset by the caller.
        """
        base = tracemalloc.get_traced_memory()[0]
        await step
        return tracemalloc.get_traced_memory()[1] - base

    async def memory(self) -> dict[str, Any]:
        seconds = self.args.memory_seconds
        async with self.session(self.fast_url) as session:
            tracemalloc.start()
            try:
                output_peak = await self.traced_growth(self.reply(session, seconds))
                tracemalloc.reset_peak()
                input_peak = await self.traced_growth(self.push_all(session, seconds))
            finally:
                tracemalloc.stop()
            await self.drop_record(session)
        results = {"output_peak_bytes": output_peak, "input_peak_bytes": input_peak}
        if self.args.service == "ours":
            # The same input run without the turn audio kept for restores.
            results["input_peak_no_turn_audio_bytes"] = await self.input_peak(turn_audio=False)
        return results

    async def input_peak(self, turn_audio: bool) -> int:
        """The traced peak of one fast input run, in a fresh session."""
        seconds = self.args.memory_seconds
        async with self.session(self.fast_url, turn_audio=turn_audio) as session:
            tracemalloc.start()
            try:
                peak = await self.traced_growth(self.push_all(session, seconds))
            finally:
                tracemalloc.stop()
            await self.drop_record(session)
        return peak

    async def run(self) -> dict[str, Any]:
        # Import the service's modules first: RSS growth is about running, not importing.
        make_service(self.args.service, self.fast_url, self.args.chunk_ms, realtime=False)
        rss_start = proc_status_kib("VmRSS")
        results: dict[str, Any] = {"service": self.args.service}
        # Several short measurements per process: one 100 s stream lasts well under a
        # second, where scheduling noise is large.
        if self.args.only in (None, "output"):
            results["output_cpu"] = [await self.output_cpu() for _ in range(self.args.repeats)]
        if self.wire:
            # Output only: on the input path there is nothing every client must receive.
            results["output_latency"] = await self.output_latency()
            return results
        if self.args.only in (None, "input"):
            results["input_cpu"] = [await self.input_cpu() for _ in range(self.args.repeats)]
        self.dump_profiles()
        if self.args.only is not None:
            return results
        results["output_latency"] = await self.output_latency()
        results["input_latency"] = await self.input_latency()
        if self.floor:
            return results
        # Before tracemalloc, whose own bookkeeping would count.
        results["rss_growth_bytes"] = (proc_status_kib("VmHWM") - rss_start) * 1024
        results["memory"] = await self.memory()
        results["calls"] = await self.calls()
        return results


def proc_status_kib(field: str) -> int:
    """A ``kB`` field of /proc/self/status (VmRSS: resident now, VmHWM: peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


async def main_async(args: argparse.Namespace) -> None:
    control = await Control.open(args.control_port)
    results = await Bench(args, control).run()
    print(json.dumps(results), flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="One run of one service (see bench_service.py).")
    parser.add_argument("--service", choices=("ours", "builtin", "floor", "wire"), required=True)
    parser.add_argument("--fast-port", type=int, required=True)
    parser.add_argument("--realtime-port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=100.0)
    parser.add_argument("--latency-seconds", type=float, default=6.0)
    parser.add_argument("--memory-seconds", type=float, default=30.0)
    parser.add_argument("--chunk-ms", type=int, default=20, help="floor's reply frame size")
    parser.add_argument("--repeats", type=int, default=3, help="CPU measurements per path")
    parser.add_argument(
        "--only",
        choices=("output", "input"),
        default=None,
        help="run only that path's CPU measurements (for an external profiler)",
    )
    parser.add_argument(
        "--profile", default=None, help="folder for cProfile stats of the two CPU runs"
    )
    return parser


def main() -> None:
    args = build_parser().parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
