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
from benchmarks.bench_stats import Row, Statistic, cpu_per_100s, estimate, markdown_table, median

HERE = Path(__file__).resolve().parent
SERVICES = ("ours", "builtin", "floor", "wire")
MIB = 1024 * 1024


async def start_simulator(
    chunk_ms: int, compression: str, default_reply_seconds: float = 1.0
) -> tuple[asyncio.subprocess.Process, list[int]]:
    """Start ``bench_sim.py`` and return it with its fast, realtime and control ports."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "bench_sim.py"),
        "--chunk-ms",
        str(chunk_ms),
        "--compression",
        compression,
        "--default-reply-seconds",
        str(default_reply_seconds),
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
    return await run_json_process(command, f"{worker} ({service})")


async def run_json_process(command: list[str], what: str) -> dict[str, Any]:
    """Run a worker process and return the JSON of its last output line.

    Args:
        command: The process's command line.
        what: The worker, named in the error when it fails (its stderr's end is shown).
    """
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        sys.stderr.write(stderr.decode(errors="replace")[-4000:])
        raise RuntimeError(f"{what} failed with exit code {process.returncode}")
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


def sample_groups(runs: dict[str, list[dict[str, Any]]]) -> dict[str, list[float]]:
    """Every sample of every service by ``"<service>.<group>"``, for the statistics.

    CPU groups hold one value per measurement (several per round on the fast paths),
    latency groups every matched chunk of every round, the rest one value per round or
    per measurement. Groups a service did not measure (the floors' memory, the wire
    floor's input path) are left out.
    """
    groups: dict[str, list[float]] = {}
    for service, service_runs in runs.items():
        first = service_runs[0]
        for key, scenario in CPU_SCENARIOS.items():
            if scenario in first:
                groups[f"{service}.{key}"] = cpu_samples(service_runs, scenario)
        if service not in ("ours", "builtin"):
            continue
        rounds = service_runs
        groups[f"{service}.output_latency"] = [
            ms for r in rounds for ms in r["output_latency"]["latencies_ms"]
        ]
        groups[f"{service}.input_latency"] = [
            ms for r in rounds for ms in r["input_latency"]["latencies_ms"]
        ]
        groups[f"{service}.input_missing_ms"] = [
            r["input_latency"]["missing"] * 20.0 for r in rounds
        ]
        groups[f"{service}.input_received_s"] = [
            m["received_ms"] / 1000 for r in rounds for m in r["input_cpu"]
        ]
        groups[f"{service}.output_frames"] = [
            m["frames"] * 100_000 / m["audio_ms"] for r in rounds for m in r["output_cpu"]
        ]
        groups[f"{service}.input_appends"] = [
            m["appends"] * 100_000 / m["audio_ms"] for r in rounds for m in r["input_cpu"]
        ]
        groups[f"{service}.output_peak_mib"] = [
            r["memory"]["output_peak_bytes"] / MIB for r in rounds
        ]
        groups[f"{service}.input_peak_mib"] = [
            r["memory"]["input_peak_bytes"] / MIB for r in rounds
        ]
        # The built-in keeps no turn audio: its row compares with its one input peak.
        # (A worker of an older checkout, in bench_ab.py, may not measure the newer
        # groups: they are left out, and so are their rows.)
        no_turn_audio = [
            r["memory"].get(INPUT_PEAK if r.get("service") == "builtin" else NO_TURN_AUDIO_PEAK)
            for r in rounds
        ]
        if None not in no_turn_audio:
            groups[f"{service}.input_peak_no_turn_audio_mib"] = [
                peak / MIB for peak in no_turn_audio
            ]
        groups[f"{service}.rss_growth_mib"] = [r["rss_growth_bytes"] / MIB for r in rounds]
        for path in ("output", "input"):
            scenario = f"{path}_latency"
            for count in ("wakeups", "writes"):
                if all(count in r[scenario] for r in rounds):
                    groups[f"{service}.{path}_rt_{count}"] = [
                        r[scenario][count] * 100_000 / r[scenario]["audio_ms"] for r in rounds
                    ]
            if not all("calls" in r for r in rounds):
                continue
            for whose in ("service", "total"):
                groups[f"{service}.{path}_calls_{whose}"] = [
                    r["calls"][f"{path}_{whose}"] * 100_000 / r["calls"]["audio_ms"] for r in rounds
                ]
    return groups


INPUT_PEAK = "input_peak_bytes"
"""The traced peak of the input run, as every service measures it."""
NO_TURN_AUDIO_PEAK = "input_peak_no_turn_audio_bytes"
"""Ours: the input peak of the same run without the turn audio kept for restores."""

COUNTED = frozenset({"output_frames", "input_appends"})
"""Groups that are counts: the same in every run of a service, so they need no interval."""


def build_rows(groups: dict[str, list[float]]) -> list[Row]:
    """The table rows, in reading order, each with its ratio's interval."""
    floor = {key: median(groups[f"floor.{key}"]) for key in CPU_SCENARIOS}
    wire = {key: median(groups[f"wire.{key}"]) for key in ("output_cpu", "output_rt_cpu")}
    per_100s = "CPU s per 100 s of audio"

    def above(key: str, base: str) -> Statistic:
        return Statistic(key, kind="above", base=base)

    specs: list[tuple[str, Statistic, int]] = [
        (f"Output path {per_100s}, fast stream (whole pipeline)", Statistic("output_cpu"), 3),
        (f"... above the floor ({floor['output_cpu']:.3f})", above("output_cpu", "floor"), 3),
        (
            f"... above the floor and the WebSocket receive ({wire['output_cpu']:.3f})",
            above("output_cpu", "wire"),
            3,
        ),
        (f"Input path {per_100s}, fast push (whole pipeline)", Statistic("input_cpu"), 3),
        (f"... above the floor ({floor['input_cpu']:.3f})", above("input_cpu", "floor"), 3),
        (
            f"Output path {per_100s}, real-time pace (whole pipeline)",
            Statistic("output_rt_cpu"),
            3,
        ),
        (
            f"... above the floor ({floor['output_rt_cpu']:.3f})",
            above("output_rt_cpu", "floor"),
            3,
        ),
        (
            f"... above the floor and the WebSocket receive ({wire['output_rt_cpu']:.3f})",
            above("output_rt_cpu", "wire"),
            3,
        ),
        (
            f"Input path {per_100s}, real-time pace (whole pipeline)",
            Statistic("input_rt_cpu"),
            3,
        ),
        (
            f"... above the floor ({floor['input_rt_cpu']:.3f})",
            above("input_rt_cpu", "floor"),
            3,
        ),
        ("Output added latency p50 (ms)", Statistic("output_latency", "percentile", 50), 2),
        ("Output added latency p99 (ms)", Statistic("output_latency", "percentile", 99), 2),
        ("Input added latency p50 (ms)", Statistic("input_latency", "percentile", 50), 2),
        ("Input added latency p99 (ms)", Statistic("input_latency", "percentile", 99), 2),
        ("Input audio never sent at end of stream (ms)", Statistic("input_missing_ms"), 0),
        ("Input audio received by the server, fast push (s)", Statistic("input_received_s"), 2),
        ("Audio frames pushed per 100 s of audio, fast stream", Statistic("output_frames"), 0),
        ("Appends sent per 100 s of audio, fast push", Statistic("input_appends"), 0),
        ("Peak traced memory, output path (MiB)", Statistic("output_peak_mib"), 2),
        ("Peak traced memory, input path (MiB)", Statistic("input_peak_mib"), 2),
        (
            "... ours with max_turn_audio_secs=0 (no turn audio kept for restores)",
            Statistic("input_peak_no_turn_audio_mib"),
            2,
        ),
        ("Max RSS growth over the CPU and latency runs (MiB)", Statistic("rss_growth_mib"), 1),
    ]
    per_audio = "per 100 s of audio"
    for path, name in (("output", "Output"), ("input", "Input")):
        specs += [
            (
                f"{name} path event-loop wake-ups {per_audio}, real-time pace",
                Statistic(f"{path}_rt_wakeups"),
                0,
            ),
            (
                f"{name} path socket writes {per_audio}, real-time pace",
                Statistic(f"{path}_rt_writes"),
                0,
            ),
            (
                f"{name} path Python calls in the service's own code {per_audio}",
                Statistic(f"{path}_calls_service"),
                0,
            ),
            (
                f"{name} path Python calls in all {per_audio}",
                Statistic(f"{path}_calls_total"),
                0,
            ),
        ]
    rows = []
    for label, statistic, digits in specs:
        needed = statistic.names("ours") + statistic.names("builtin")
        if not all(name in groups for name in needed):
            continue  # a group one side did not measure (an older checkout's worker)
        ours, builtin, interval = estimate(statistic, groups)
        exact = statistic.group in COUNTED and all(
            len(set(groups[f"{service}.{statistic.group}"])) == 1 for service in ("ours", "builtin")
        )
        rows.append(Row(label, ours, builtin, digits, interval=interval, exact=exact))
    return rows


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
        "Ratio below 1 is better for ours. In brackets: the 95 % percentile-bootstrap "
        "interval of the ratio (each service's samples resampled on their own, 2,000 "
        "draws); `exact` marks counts that are the same in every run. See "
        "benchmarks/README.md for what each row means.\n\n"
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
    rows = build_rows(sample_groups(runs))
    document = report(rows, args, samples_section(runs))
    if args.profile is not None:
        profiles = sorted(args.profile.glob("*.pstats"))
        document += "\n## Profiles (cProfile)\n\n" + "\n".join(map(summarize_profile, profiles))
    args.output.write_text(document)
    print(document)


if __name__ == "__main__":
    main()
