"""The service benchmark (benchmarks/bench_service.py) still runs, and its arithmetic holds.

The smoke test runs the whole benchmark at a tiny size in a subprocess; the other tests
check the pure parts (latency matching, percentiles, the table, the simulator-side
helpers) without sockets.
"""

from __future__ import annotations

import asyncio
import base64
import cProfile
import json
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench_profile import summarize as summarize_profile
from benchmarks.bench_sim import delta_size, reply_text
from benchmarks.bench_stats import (
    TABLE_HEADER,
    Row,
    Statistic,
    cpu_per_100s,
    estimate,
    markdown_table,
    match_chunks,
    percentile,
    ratio,
)
from pipecat_realtime_openai.testing.synth import MS_PER_CHAR

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(90)
def test_benchmark_runs_at_a_tiny_size_and_writes_the_table(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_service.py"),
            "--rounds",
            "1",
            "--repeats",
            "1",
            "--seconds",
            "2",
            "--latency-seconds",
            "1",
            "--memory-seconds",
            "1",
            "--output",
            str(results),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert TABLE_HEADER in completed.stdout
    written = results.read_text()
    assert TABLE_HEADER in written
    assert "Machine:" in written
    rows = [line for line in written.splitlines() if line.startswith("| ")][1:]
    metrics = {line.split(" | ")[0].strip("| ") for line in rows}
    assert "Output added latency p99 (ms)" in metrics
    assert "Peak traced memory, input path (MiB)" in metrics
    counted = [line for line in rows if "wake-ups" in line or "socket writes" in line]
    counted += [line for line in rows if "Python calls" in line]
    assert len(counted) == 8
    for line in counted:
        ours, builtin = (float(cell) for cell in line.split("|")[2:4])
        assert ours > 0 and builtin > 0, line
    # Every value cell is a number (a crash in a worker would not reach this point, a
    # NaN or an empty cell would).
    for line in rows:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == 4
        for cell in cells[1:3]:
            assert re.fullmatch(r"-?\d+(\.\d+)?", cell), line
    # The wire floor ran: its output CPU shows in the label of the rows above it.
    wire_rows = [m for m in metrics if m.startswith("... above the floor and the WebSocket")]
    assert len(wire_rows) == 2
    assert all(float(m.rsplit("(", 1)[1].rstrip(")")) > 0 for m in wire_rows)
    # The simulator got every millisecond our service was given in the fast input run.
    received = next(line for line in rows if "received by the server" in line)
    assert received.split("|")[2].strip() == "2.00"


def test_match_chunks_waits_for_the_end_of_each_chunk() -> None:
    # Three 20 ms chunks sent at 0, 20, 40 ms; the far side gets one 40 ms piece at
    # 45 ms and the rest at 70 ms.
    ms = 1_000_000
    matched = match_chunks(
        sent_ns=[0, 20 * ms, 40 * ms],
        sent_ms=[20.0, 20.0, 20.0],
        arrived_ns=[45 * ms, 70 * ms],
        arrived_ms=[40.0, 20.0],
    )
    assert matched.latencies_ms == [45.0, 25.0, 30.0]
    assert matched.missing == 0


def test_match_chunks_counts_audio_that_never_arrived() -> None:
    matched = match_chunks(
        sent_ns=[0, 10, 20], sent_ms=[20.0, 20.0, 20.0], arrived_ns=[5], arrived_ms=[30.0]
    )
    assert matched.latencies_ms == [5e-6]
    assert matched.missing == 2


def test_match_chunks_handles_finer_pieces_than_chunks() -> None:
    # One 40 ms chunk split into four 10 ms pieces: done when the last one arrives.
    matched = match_chunks(
        sent_ns=[0], sent_ms=[40.0], arrived_ns=[1, 2, 3, 4_000_000], arrived_ms=[10.0] * 4
    )
    assert matched.latencies_ms == [4.0]


def test_match_chunks_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        match_chunks([0, 1], [20.0], [], [])


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == 2.5
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_cpu_per_100s_scales_to_100_seconds_of_audio() -> None:
    assert cpu_per_100s(0.5, 50_000) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        cpu_per_100s(0.5, 0)


def test_markdown_table_shows_values_and_ratio() -> None:
    table = markdown_table([Row("CPU", 0.25, 1.0), Row("zero", 1.0, 0.0, digits=1)])
    lines = table.splitlines()
    assert lines[0] == TABLE_HEADER
    assert lines[2] == "| CPU | 0.250 | 1.000 | 0.25 |"
    assert lines[3] == "| zero | 1.0 | 0.0 | n/a |"
    assert ratio(3.0, 2.0) == "1.50"


def test_rows_show_the_interval_of_their_ratio_or_that_they_are_exact() -> None:
    assert Row("CPU", 0.5, 1.0, interval=(0.41, 0.6)).cells()[3] == "0.50 (0.41..0.60)"
    assert Row("count", 2.0, 4.0, 0, exact=True).cells()[3] == "0.50 (exact)"
    assert Row("zero", 1.0, 0.0, interval=(1, 2)).cells()[3] == "n/a"


def test_bootstrap_interval_brackets_the_ratio_and_narrows_with_samples() -> None:
    rng = random.Random(3)
    few = {
        "ours.cpu": [0.5 + rng.gauss(0, 0.05) for _ in range(6)],
        "builtin.cpu": [1.0 + rng.gauss(0, 0.1) for _ in range(6)],
    }
    many = {
        "ours.cpu": [0.5 + rng.gauss(0, 0.05) for _ in range(200)],
        "builtin.cpu": [1.0 + rng.gauss(0, 0.1) for _ in range(200)],
    }
    ours, builtin, interval = estimate(Statistic("cpu"), few)
    assert interval is not None
    low, high = interval
    assert low <= ours / builtin <= high
    _, _, (many_low, many_high) = estimate(Statistic("cpu"), many)  # type: ignore[misc]
    assert many_high - many_low < high - low
    assert 0.45 < many_low < many_high < 0.55, "close around the true ratio (0.5)"
    # The same samples give the same interval (the draws are seeded).
    assert estimate(Statistic("cpu"), few) == estimate(Statistic("cpu"), few)
    # One sample per side: nothing to draw.
    assert estimate(Statistic("cpu"), {"ours.cpu": [1.0], "builtin.cpu": [2.0]})[2] is None


def test_above_the_floor_subtracts_the_floor_median_in_every_draw() -> None:
    groups = {
        "ours.cpu": [1.0, 1.0, 1.0],
        "builtin.cpu": [2.0, 2.0, 2.0],
        "floor.cpu": [0.5, 0.5, 0.5],
    }
    ours, builtin, interval = estimate(Statistic("cpu", kind="above", base="floor"), groups)
    assert (ours, builtin) == (0.5, 1.5)
    assert interval == (1 / 3, 1 / 3)
    p99 = estimate(
        Statistic("lat", "percentile", 99),
        {
            "ours.lat": list(range(101)),
            "builtin.lat": [50.0] * 101,
        },
    )
    assert p99[0] == 99 and p99[1] == 50


@pytest.mark.parametrize("size", [0, 1, 2, 3, 959, 960, 4800])
def test_delta_size_reads_the_audio_length_without_decoding(size: int) -> None:
    event = {
        "type": "response.output_audio.delta",
        "event_id": "event_1",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(bytes(size)).decode(),
    }
    assert delta_size(json.dumps(event)) == size
    # Compact JSON (no space after the colon) takes the decoding fallback.
    assert delta_size(json.dumps(event, separators=(",", ":"))) == size


@pytest.mark.parametrize("seconds", [0.5, 1.0, 6.0, 100.0])
def test_reply_text_lasts_the_requested_time(seconds: float) -> None:
    text = reply_text(seconds)
    assert abs(len(text) * MS_PER_CHAR - seconds * 1000) < MS_PER_CHAR
    assert " " in text  # several words: transcript deltas as a real reply has


def test_pyspy_summary_counts_only_event_loop_samples(tmp_path: Path) -> None:
    loop = "main (w.py:1);BaseEventLoop._run_once (/x/lib/asyncio/base_events.py:9);"
    loop += "Handle._run (/x/lib/asyncio/events.py:80)"
    own = "pipecat_realtime_openai/service/llm.py"
    collapsed = tmp_path / "ours-output.txt"
    collapsed.write_text(
        f"{loop};OpenAIRealtimeLLMService._on_server_event ({ROOT}/{own}:121);"
        "push (/v/site-packages/pipecat/p.py:3) 30\n"
        f"{loop};OpenAIRealtimeLLMService._on_server_event ({ROOT}/{own}:125) 10\n"
        # An import inside the loop and a sample outside it are not service work.
        f"{loop};<module> (/r/pipecat_realtime_openai/x.py:1) 50\n"
        "main (w.py:1);import_stuff (/r/a.py:2) 99\n"
    )
    summary = summarize_profile(collapsed)
    assert "40 samples busy" in summary
    handle = f"| `OpenAIRealtimeLLMService._on_server_event ({own})` | 25.0 | 100.0 |"
    assert handle in summary
    assert "| `push (pipecat/p.py)` | 75.0 | 75.0 |" in summary
    # Which part is whose: each sample under the package of its innermost frame.
    assert "| Pipecat | 75.0 |" in summary
    assert "| this package | 25.0 |" in summary


def test_pyspy_packages_tell_the_builtin_service_from_the_rest_of_pipecat() -> None:
    from benchmarks.bench_profile import package_of

    builtin = "pipecat/services/openai/realtime/llm.py"
    assert package_of(f"_handle_evt_audio_delta (/v/site-packages/{builtin}:9)") == (
        "the built-in service"
    )
    assert package_of("queue_frame (pipecat/processors/frame_processor.py:1)") == "Pipecat"
    assert package_of("Frame.parse (websockets/frames.py:290)") == "websockets"
    assert package_of("decode (json/decoder.py:1)") == "json"
    assert package_of("<lambda> (enum.py:3)").startswith("other")


def test_cprofile_summary_reports_shares_of_busy_time(tmp_path: Path) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    sorted(range(20_000), key=lambda n: -n)
    profiler.disable()
    stats_file = tmp_path / "ours-input.pstats"
    profiler.dump_stats(stats_file)
    summary = summarize_profile(stats_file, top=3)
    assert summary.startswith("### ours-input.pstats:")
    rows = [line for line in summary.splitlines() if line.startswith("| `")]
    assert len(rows) == 3
    # The lambda ran 20 000 times and is among the busiest functions.
    assert any("<lambda>" in row and "| 20000 |" in row for row in rows)


def run_benchmark(script: str, *args: str, timeout: float, header: str = TABLE_HEADER) -> str:
    """Run a benchmark script at a tiny size; return its stdout (the table)."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert header in completed.stdout
    return completed.stdout


def ours_and_builtin(table: str, label: str) -> tuple[float, float]:
    line = next(line for line in table.splitlines() if label in line)
    ours, builtin = (float(cell) for cell in line.split("|")[2:4])
    return ours, builtin


@pytest.mark.timeout(120)
def test_concurrent_benchmark_runs_at_a_tiny_size() -> None:
    args = ("--sessions", "2", "--seconds", "0.3", "--rounds", "1")
    table = run_benchmark("bench_concurrent.py", *args, timeout=110)
    for label in ("Output path, 2 sessions", "Input path, 2 sessions"):
        ours, builtin = ours_and_builtin(table, label)
        assert ours > 0 and builtin > 0


def test_concurrent_table_subtracts_the_floor() -> None:
    from benchmarks.bench_concurrent import table

    samples = {
        ("ours", "output"): [1.0, 1.2, 1.1],
        ("builtin", "output"): [1.4],
        ("floor", "output"): [0.8],
        ("ours", "input"): [1.5],
        ("builtin", "input"): [2.0],
        ("floor", "input"): [1.0],
    }
    text = table(samples, 10)
    assert "| Output path, 10 sessions at real-time pace (whole pipeline) | 1.100 | 1.400 |" in text
    assert "| ... above the floor (0.800) | 0.300 | 0.600 | 0.50 |" in text
    assert "| ... above the floor (1.000) | 0.500 | 1.000 | 0.50 |" in text


@pytest.mark.timeout(120)
def test_realtime_benchmark_runs_both_paths_at_a_tiny_size() -> None:
    table = run_benchmark("bench_rt.py", "--rounds", "1", "--seconds", "0.4", timeout=110)
    for label in ("Input path at real-time pace", "Output path at real-time pace"):
        ours, builtin = ours_and_builtin(table, label)
        assert ours > 0 and builtin > 0


@pytest.mark.timeout(60)
def test_realtime_benchmark_runs_one_service_alone_for_a_profiler() -> None:
    out = run_benchmark(
        "bench_rt.py",
        "--only",
        "ours",
        "--paths",
        "output",
        "--rounds",
        "2",
        "--seconds",
        "0.4",
        timeout=50,
        header="- output ours: ",
    )
    assert TABLE_HEADER not in out
    (line,) = out.strip().splitlines()
    assert len([float(v) for v in line.split(":", 1)[1].split(",")]) == 2


def test_realtime_table_subtracts_each_paths_floor_and_shows_the_best_ratio() -> None:
    from benchmarks.bench_rt import table

    text = table(
        {
            "input": {"floor": [2.0, 2.2], "ours": [2.5, 2.7], "builtin": [3.1, 3.3]},
            "output": {"wire": [1.0, 1.0], "ours": [1.2, 1.2], "builtin": [1.5, 1.5]},
        }
    )
    assert "| ... above the floor (2.100) | 0.500 | 1.100 | 0.45 (" in text
    assert "| ... the floor alone (the best ratio possible) | 2.100 | 3.200 | 0.66 (" in text
    assert (
        "| ... above the floor and the WebSocket receive (1.000) | 0.200 | 0.500 | 0.40 "
        "(0.40..0.40) |" in text
    )
    assert "- input floor: 2.000, 2.200" in text
    assert "- output builtin: 1.500, 1.500" in text
    # A call: input all along, output half of it (floors: 2.1 + 0.5, built-in 3.2 + 0.75).
    assert "| A call (input all along, output 50% of it), CPU s per 100 s | 3.200 | 3.950 |" in text
    assert "| ... the floors alone (the best ratio possible) | 2.600 | 3.950 | 0.66 (" in text
    # The table reads back from its own sample lines.
    from benchmarks.bench_rt import samples_from_text

    assert table(samples_from_text(text)) == text


def test_paired_rounds_are_scaled_by_their_floor_so_the_hosts_drift_cancels() -> None:
    from benchmarks.bench_stats import paired_estimate

    # Each round's conditions scale every service alike (a shared host); above the
    # floor, ours always costs half of the built-in.
    drift = [1.0, 1.63, 0.71, 1.29, 0.93, 1.77, 1.12, 0.41]
    groups = {
        "ours.cpu": [1.5 * d for d in drift],
        "builtin.cpu": [2.0 * d for d in drift],
        "floor.cpu": [1.0 * d for d in drift],
    }
    above = Statistic("cpu", kind="above", base="floor")
    _, _, independent = estimate(above, groups)
    assert independent is not None
    assert independent[1] - independent[0] > 0.5, "drawn on their own, the drift widens it"
    ours, builtin, value, paired = paired_estimate(above, groups, "floor")
    assert (ours, builtin) == pytest.approx((0.5 * 1.06, 1.06))
    assert value == pytest.approx(0.5)
    assert paired == pytest.approx((0.5, 0.5)), "scaled by round, the drift cancels"
    _, _, whole, _ = paired_estimate(Statistic("cpu"), groups, "floor")
    assert whole == pytest.approx(0.75)
    shown = Row("x", ours, builtin, interval=paired, value=value).cells()[3]
    assert shown == "0.50 (0.50..0.50)"
    with pytest.raises(ValueError, match="one per round"):
        paired_estimate(Statistic("cpu"), {**groups, "ours.cpu": [1.0, 2.0]}, "floor")


@pytest.mark.timeout(90)
def test_hot_path_counts_are_exact_and_repeatable() -> None:
    def counts() -> dict[str, float]:
        out = run_benchmark(
            "bench_hot_paths.py", "--seconds", "1", "--repeats", "1", timeout=40, header="{"
        )
        return json.loads(out.strip().splitlines()[-1])

    first, second = counts(), counts()
    for path in ("input", "output"):
        assert first[f"{path}_calls_package"] > 0 and first[f"{path}_cpu_ms"] > 0
        # The package's own calls do not depend on timing: the same in every run.
        assert first[f"{path}_calls_package"] == second[f"{path}_calls_package"]
        assert first[f"{path}_calls_total"] >= first[f"{path}_calls_package"]


@pytest.mark.timeout(120)
def test_before_after_benchmark_runs_against_a_checkout() -> None:
    tiny = ("--rounds", "1", "--repeats", "1", "--seconds", "2", "--latency-seconds", "1")
    header = "| metric | after | before | after / before, 95 % interval |"
    args = ("--other", str(ROOT), *tiny, "--memory-seconds", "1")
    table = run_benchmark("bench_ab.py", *args, timeout=110, header=header)
    assert "- before output_cpu:" in table


def test_rows_an_older_worker_did_not_measure_are_left_out() -> None:
    from benchmarks.bench_service import build_rows, sample_groups

    def run(calls: bool, service: str = "ours") -> dict[str, Any]:
        cpu = [{"cpu_s": 1.0, "audio_ms": 100_000, "received_ms": 100_000,
                "frames": 10, "appends": 10}]  # fmt: skip
        latency = {"latencies_ms": [1.0], "missing": 0, "cpu_s": 1.0, "audio_ms": 100_000}
        if calls:
            latency |= {"wakeups": 5, "writes": 2}
        result: dict[str, Any] = {
            "service": service,
            "output_cpu": cpu,
            "input_cpu": cpu,
            "output_latency": latency,
            "input_latency": latency,
            "rss_growth_bytes": 0,
            "memory": {"output_peak_bytes": 1, "input_peak_bytes": 1},
        }
        if calls:
            result["calls"] = {"audio_ms": 100_000, "output_service": 1, "output_total": 2,
                               "input_service": 1, "input_total": 2}  # fmt: skip
            result["memory"]["input_peak_no_turn_audio_bytes"] = 1
        return result

    floors = {"floor": [run(False)], "wire": [run(False)]}
    labels = [row.metric for row in build_rows(sample_groups({"ours": [run(True)],
              "builtin": [run(False)], **floors}))]  # fmt: skip
    assert "Output path CPU s per 100 s of audio, fast stream (whole pipeline)" in labels
    assert not any("Python calls" in label or "wake-ups" in label for label in labels)
    assert not any("max_turn_audio_secs=0" in label for label in labels)
    both = build_rows(sample_groups({"ours": [run(True)], "builtin": [run(True)], **floors}))
    assert any("Python calls in all" in row.metric for row in both)
    # The built-in keeps no turn audio: its one input peak stands in that row.
    versus_builtin = sample_groups({"ours": [run(True)], "builtin": [run(True, "builtin")]})
    assert "builtin.input_peak_no_turn_audio_mib" in versus_builtin


async def test_loop_counts_sees_the_writes_to_a_port_and_the_loop_waking() -> None:
    from benchmarks.bench_counters import loop_counts

    received = bytearray()
    served = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.extend(await reader.read())  # until the client closes
        writer.close()
        served.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    with loop_counts({port}) as counts:
        for piece in (b"one", b"two", b"three"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
    writer.close()
    await writer.wait_closed()
    await asyncio.wait_for(served.wait(), 10)
    server.close()
    assert received == b"onetwothree"
    assert (counts.writes, counts.written_bytes) == (3, 11)
    assert counts.wakeups >= 3, "each sleep wakes the loop"
    with loop_counts({port + 1}) as other:
        await asyncio.sleep(0)
    assert other.writes == 0


@pytest.mark.timeout(90)
def test_telephony_benchmark_runs_at_a_tiny_size() -> None:
    header = "| per 100 s of audio | g711: 8 kHz pipeline, pcmu |"
    out = run_benchmark(
        "bench_telephony.py", "--seconds", "1", "--rounds", "2", "--json", timeout=80, header=header
    )
    counts = json.loads(out.splitlines()[0])["counts"]
    g711, pcm24 = counts["g711"], counts["pcm24"]
    # A sixth of the audio bytes on the socket each way: mu-law at 8 kHz, not 24 kHz PCM.
    assert g711["output_pcm_bytes"] * 3 == pcm24["output_pcm_bytes"]
    assert g711["input_socket_bytes"] < pcm24["input_socket_bytes"] / 4
    assert g711["output_json_bytes"] < pcm24["output_json_bytes"] / 3
    assert "| input: CPU ms |" in out


def test_median_interval_uses_order_statistics() -> None:
    from benchmarks.bench_stats import median_interval

    twenty = median_interval([float(v) for v in range(20, 0, -1)])
    # The sign-test interval for 20 samples: the 6th to the 15th, 95.9 % coverage.
    assert (twenty.median, twenty.low, twenty.high) == (10.5, 6.0, 15.0)
    assert 0.958 < twenty.coverage < 0.959
    eight = median_interval([3.0, 1.0, 2.0, 5.0, 4.0, 8.0, 7.0, 6.0])
    assert (eight.low, eight.high) == (1.0, 8.0) and eight.coverage > 0.99
    assert median_interval([2.0]).coverage == 0.0
    with pytest.raises(ValueError):
        median_interval([])


@pytest.mark.timeout(150)
def test_capacity_benchmark_runs_at_a_tiny_size() -> None:
    args = (
        "--seconds",
        "3",
        "--user-seconds",
        "1",
        "--reply-seconds",
        "1",
        "--max-sessions",
        "2",
        "--repeats",
        "1",
    )
    table = run_benchmark("bench_capacity.py", *args, timeout=140, header="| metric | ours |")
    carried = next(line for line in table.splitlines() if "Sessions one process" in line)
    ours, builtin = (int(cell) for cell in carried.split("|")[2:4])
    assert 1 <= ours <= 2 and 1 <= builtin <= 2
    runs = [line for line in table.splitlines() if line.startswith(("| ours |", "| builtin |"))]
    assert {line.split("|")[2].strip() for line in runs} >= {"1"}
    for line in runs:
        cpu = float(line.split("|")[-2])
        assert cpu > 0, line


def test_capacity_counts_hold_on_latency_growth_and_lost_reply_audio() -> None:
    from benchmarks.bench_capacity import added_p99, holds

    baseline = {"output_p99": 1.0, "input_p99": 60.0, "missing": 0}
    assert added_p99({"output_p99": 5.0, "input_p99": 70.0, "missing": 0}, baseline) == 10.0
    assert holds({"output_p99": 20.9, "input_p99": 60.0, "missing": 0}, baseline, 20.0)
    assert not holds({"output_p99": 1.0, "input_p99": 81.0, "missing": 0}, baseline, 20.0)
    assert not holds({"output_p99": 1.0, "input_p99": 60.0, "missing": 2}, baseline, 20.0)
