"""Side-by-side benchmark: this package's service vs Pipecat's built-in Realtime service.

Run: ``.venv/bin/python benchmarks/bench_service.py [--rounds 3] [--seconds 100]``.

Starts the simulator in its own process (``bench_sim.py``), then runs one worker process
(``bench_worker.py``) per service per round, interleaved (ours, built-in, ours, ...), so
each process's CPU clock holds only that service's client work. Reports medians over the
rounds (latency percentiles over the samples of every round), prints a Markdown table
and writes it to ``benchmarks/results.md`` with the machine and the date. See
``benchmarks/README.md`` for what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_profile import summarize as summarize_profile
from benchmarks.bench_stats import Row, cpu_per_100s, markdown_table, median, percentile

HERE = Path(__file__).resolve().parent
SERVICES = ("ours", "builtin", "floor", "wire")
MIB = 1024 * 1024


async def start_simulator(
    chunk_ms: int, compression: str
) -> tuple[asyncio.subprocess.Process, list[int]]:
    """Start ``bench_sim.py`` and return it with its fast, realtime and control ports."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "bench_sim.py"),
        "--chunk-ms",
        str(chunk_ms),
        "--compression",
        compression,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    async with asyncio.timeout(60):
        line = (await process.stdout.readline()).decode()
    if not line.startswith("READY "):
        raise RuntimeError(f"the simulator did not start: {line!r}")
    return process, [int(port) for port in line.split()[1:]]


async def stop_simulator(process: asyncio.subprocess.Process) -> None:
    """Close its stdin (it exits on EOF); terminate it if it does not."""
    assert process.stdin is not None
    process.stdin.close()
    try:
        async with asyncio.timeout(10):
            await process.wait()
    except TimeoutError:
        process.terminate()
        await process.wait()


async def run_worker(
    service: str,
    ports: list[int],
    args: argparse.Namespace,
    profile: Path | None = None,
    worker: Path = HERE / "bench_worker.py",
) -> dict[str, Any]:
    """Run one worker process (of this checkout, or ``worker``) and return its JSON results."""
    command = [
        sys.executable,
        str(worker),
        "--service",
        service,
        "--fast-port",
        str(ports[0]),
        "--realtime-port",
        str(ports[1]),
        "--control-port",
        str(ports[2]),
        "--seconds",
        str(args.seconds),
        "--latency-seconds",
        str(args.latency_seconds),
        "--memory-seconds",
        str(args.memory_seconds),
        "--chunk-ms",
        str(args.chunk_ms),
        "--repeats",
        str(args.repeats),
    ]
    if profile is not None:
        command += ["--profile", str(profile)]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        sys.stderr.write(stderr.decode(errors="replace")[-4000:])
        raise RuntimeError(f"{worker} ({service}) failed with exit code {process.returncode}")
    return json.loads(stdout.decode().strip().splitlines()[-1])


async def run_rounds(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """All rounds, interleaved: ours, built-in, floor, ours, built-in, floor, ...

    With ``--profile``, one more run of each service under cProfile follows (its
    numbers are not in the table: profiling slows everything down).
    """
    simulator, ports = await start_simulator(args.chunk_ms, args.compression)
    runs: dict[str, list[dict[str, Any]]] = {service: [] for service in SERVICES}
    try:
        for round_index in range(args.rounds):
            for service in SERVICES:
                print(f"round {round_index + 1}/{args.rounds}: {service}", file=sys.stderr)
                runs[service].append(await run_worker(service, ports, args))
        if args.profile is not None:
            for service in SERVICES[:2]:
                print(f"profiling {service}", file=sys.stderr)
                await run_worker(service, ports, args, profile=args.profile)
    finally:
        await stop_simulator(simulator)
    return runs


def cpu_samples(runs: list[dict[str, Any]], scenario: str) -> list[float]:
    """CPU seconds per 100 s of audio of every measurement of `scenario` in every round.

    Args:
        runs: Worker results, one per round.
        scenario: ``output_cpu`` / ``input_cpu`` (several measurements per round) or
            ``output_latency`` / ``input_latency`` (one, at real-time pace).
    """
    samples = []
    for run in runs:
        measured = run[scenario]
        for m in measured if isinstance(measured, list) else [measured]:
            samples.append(cpu_per_100s(m["cpu_s"], m["audio_ms"]))
    return samples


CPU_SCENARIOS = {
    "output_cpu": "output_cpu",
    "input_cpu": "input_cpu",
    "output_rt_cpu": "output_latency",
    "input_rt_cpu": "input_latency",
}


def cpu_medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Median CPU seconds per 100 s of audio of each CPU metric (see `CPU_SCENARIOS`).

    Metrics the runs did not measure (the wire floor has no input path) are left out.
    """
    return {
        key: median(cpu_samples(runs, scenario))
        for key, scenario in CPU_SCENARIOS.items()
        if scenario in runs[0]
    }


def summarize(
    runs: list[dict[str, Any]], floor: dict[str, float], wire: dict[str, float]
) -> dict[str, float]:
    """One service's numbers: medians over rounds, latency percentiles over all samples.

    Args:
        runs: The service's worker results, one per round.
        floor: The floor's `cpu_medians`; each CPU metric also gets an ``_own`` value,
            the service's CPU above the floor.
        wire: The wire floor's `cpu_medians` (output metrics only); those metrics also
            get a ``_work`` value, the service's CPU above it.
    """
    cpu = cpu_medians(runs)
    output_latency = [ms for run in runs for ms in run["output_latency"]["latencies_ms"]]
    input_latency = [ms for run in runs for ms in run["input_latency"]["latencies_ms"]]
    return {
        **cpu,
        **{f"{key}_own": value - floor[key] for key, value in cpu.items()},
        **{f"{key}_work": cpu[key] - value for key, value in wire.items()},
        "output_p50": percentile(output_latency, 50),
        "output_p99": percentile(output_latency, 99),
        "input_p50": percentile(input_latency, 50),
        "input_p99": percentile(input_latency, 99),
        "input_missing_ms": median([r["input_latency"]["missing"] * 20.0 for r in runs]),
        "input_received_s": median([m["received_ms"] / 1000 for r in runs for m in r["input_cpu"]]),
        "output_frames": median(
            [m["frames"] * 100_000 / m["audio_ms"] for r in runs for m in r["output_cpu"]]
        ),
        "input_appends": median(
            [m["appends"] * 100_000 / m["audio_ms"] for r in runs for m in r["input_cpu"]]
        ),
        "output_peak_mib": median([r["memory"]["output_peak_bytes"] / MIB for r in runs]),
        "input_peak_mib": median([r["memory"]["input_peak_bytes"] / MIB for r in runs]),
        "rss_growth_mib": median([r["rss_growth_bytes"] / MIB for r in runs]),
    }


def build_rows(
    ours: dict[str, float],
    builtin: dict[str, float],
    floor: dict[str, float],
    wire: dict[str, float],
) -> list[Row]:
    """The table rows, in reading order."""
    per_100s = "CPU s per 100 s of audio"
    labels = [
        ("output_cpu", f"Output path {per_100s}, fast stream (whole pipeline)", 3),
        ("output_cpu_own", f"... above the floor ({floor['output_cpu']:.3f})", 3),
        (
            "output_cpu_work",
            f"... above the floor and the WebSocket receive ({wire['output_cpu']:.3f})",
            3,
        ),
        ("input_cpu", f"Input path {per_100s}, fast push (whole pipeline)", 3),
        ("input_cpu_own", f"... above the floor ({floor['input_cpu']:.3f})", 3),
        ("output_rt_cpu", f"Output path {per_100s}, real-time pace (whole pipeline)", 3),
        ("output_rt_cpu_own", f"... above the floor ({floor['output_rt_cpu']:.3f})", 3),
        (
            "output_rt_cpu_work",
            f"... above the floor and the WebSocket receive ({wire['output_rt_cpu']:.3f})",
            3,
        ),
        ("input_rt_cpu", f"Input path {per_100s}, real-time pace (whole pipeline)", 3),
        ("input_rt_cpu_own", f"... above the floor ({floor['input_rt_cpu']:.3f})", 3),
        ("output_p50", "Output added latency p50 (ms)", 2),
        ("output_p99", "Output added latency p99 (ms)", 2),
        ("input_p50", "Input added latency p50 (ms)", 2),
        ("input_p99", "Input added latency p99 (ms)", 2),
        ("input_missing_ms", "Input audio never sent at end of stream (ms)", 0),
        ("input_received_s", "Input audio received by the server, fast push (s)", 2),
        ("output_frames", "Audio frames pushed per 100 s of audio, fast stream", 0),
        ("input_appends", "Appends sent per 100 s of audio, fast push", 0),
        ("output_peak_mib", "Peak traced memory, output path (MiB)", 2),
        ("input_peak_mib", "Peak traced memory, input path (MiB)", 2),
        ("rss_growth_mib", "Max RSS growth over the CPU and latency runs (MiB)", 1),
    ]
    return [Row(label, ours[key], builtin[key], digits) for key, label, digits in labels]


def machine_info() -> str:
    """CPU model, core count, OS, Python and Pipecat versions."""
    from importlib.metadata import version

    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; pipecat-ai {version('pipecat-ai')}, "
        f"websockets {version('websockets')}"
    )


def samples_section(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Every CPU measurement, so the spread behind each median is visible."""
    lines = ["CPU samples (s per 100 s of audio, in run order):", ""]
    for service, service_runs in runs.items():
        for key, scenario in CPU_SCENARIOS.items():
            if scenario not in service_runs[0]:
                continue
            values = ", ".join(f"{v:.3f}" for v in cpu_samples(service_runs, scenario))
            lines.append(f"- {service} {key}: {values}")
    return "\n".join(lines) + "\n"


def report(rows: list[Row], args: argparse.Namespace, samples: str) -> str:
    """The Markdown document written to results.md."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    settings = (
        f"{args.rounds} rounds (interleaved, median), {args.seconds:g} s of audio per CPU "
        f"run, {args.latency_seconds:g} s per latency run, {args.memory_seconds:g} s per "
        f"memory run, {args.chunk_ms} ms reply audio deltas, 20 ms 16 kHz input frames, "
        f"WebSocket compression offered by the client accepted: {args.compression}"
    )
    return (
        "# Service benchmark: ours vs Pipecat's built-in OpenAIRealtimeLLMService\n\n"
        f"- Date: {now}\n- Machine: {machine_info()}\n- Settings: {settings}\n"
        f"- Command: `python benchmarks/bench_service.py {' '.join(sys.argv[1:])}`\n\n"
        f"{markdown_table(rows)}\n\n"
        "Ratio below 1 is better for ours. See benchmarks/README.md for what each row means.\n\n"
        f"{samples}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per service (default 3)")
    parser.add_argument(
        "--seconds", type=float, default=100.0, help="audio per CPU run (default 100)"
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=5.0, help="audio per latency run (default 5)"
    )
    parser.add_argument(
        "--memory-seconds", type=float, default=20.0, help="audio per memory run (default 20)"
    )
    parser.add_argument("--chunk-ms", type=int, default=20, help="reply audio per delta (20)")
    parser.add_argument(
        "--repeats", type=int, default=6, help="CPU measurements per path per round (6)"
    )
    parser.add_argument(
        "--compression",
        choices=("none", "deflate"),
        default="none",
        help="simulator accepts permessage-deflate when offered (default none)",
    )
    parser.add_argument(
        "--output", type=Path, default=HERE / "results.md", help="where to write the table"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="folder: also profile one run of each service and append a summary",
    )
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.rounds < 1 or min(args.seconds, args.latency_seconds, args.memory_seconds) <= 0:
        raise SystemExit("--rounds must be >= 1 and every duration > 0")
    runs = asyncio.run(run_rounds(args))
    floor = cpu_medians(runs["floor"])
    wire = cpu_medians(runs["wire"])
    rows = build_rows(
        summarize(runs["ours"], floor, wire), summarize(runs["builtin"], floor, wire), floor, wire
    )
    document = report(rows, args, samples_section(runs))
    if args.profile is not None:
        profiles = sorted(args.profile.glob("*.pstats"))
        document += "\n## Profiles (cProfile)\n\n" + "\n".join(map(summarize_profile, profiles))
    args.output.write_text(document)
    print(document)


if __name__ == "__main__":
    main()
