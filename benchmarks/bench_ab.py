"""Before/after: this checkout's service against another checkout's, taking turns.

Run: ``.venv/bin/python benchmarks/bench_ab.py --other ../old-checkout [--rounds 5]``,
where the other checkout is, for instance, ``git worktree add ../old-checkout HEAD~3``.

One simulator (``bench_sim.py``) serves every run; each round runs ``bench_worker.py``
for this checkout's service ("after"), the other checkout's ("before"), and this
checkout's two floors, in turn, each in a fresh process that imports the package of
its own checkout. So machine noise falls on both sides alike. The table has the same
rows as ``bench_service.py``'s, with "after" and "before" in place of "ours" and
"built-in".
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_service import (
    build_rows,
    run_worker,
    sample_groups,
    samples_section,
    start_simulator,
    stop_simulator,
)
from benchmarks.bench_stats import TABLE_HEADER, markdown_table

HERE = Path(__file__).resolve().parent


async def run_rounds(args: argparse.Namespace, other: Path) -> dict[str, list[dict[str, Any]]]:
    plan = [
        ("after", HERE / "bench_worker.py", "ours"),
        ("before", other, "ours"),
        ("floor", HERE / "bench_worker.py", "floor"),
        ("wire", HERE / "bench_worker.py", "wire"),
    ]
    simulator, ports = await start_simulator(args.chunk_ms, "none")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in plan}
    try:
        for round_index in range(args.rounds):
            for name, worker, service in plan:
                print(f"round {round_index + 1}/{args.rounds}: {name}", file=sys.stderr)
                runs[name].append(await run_worker(service, ports, args, worker=worker))
    finally:
        await stop_simulator(simulator)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="the checkout to compare against")
    parser.add_argument("--rounds", type=int, default=5, help="runs per side (5)")
    parser.add_argument("--seconds", type=float, default=100.0, help="audio per CPU run")
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--memory-seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=6, help="CPU runs per path per round")
    parser.add_argument("--chunk-ms", type=int, default=20, help="reply audio per delta (20)")
    args = parser.parse_args()
    other = Path(args.other).resolve() / "benchmarks" / "bench_worker.py"
    if not other.exists():
        raise SystemExit(f"no benchmarks/bench_worker.py in {args.other}")
    runs = asyncio.run(run_rounds(args, other))
    # The rows compare "ours" with "builtin": after and before take their places.
    sides = {"ours": runs["after"], "builtin": runs["before"]}
    groups = sample_groups({**sides, "floor": runs["floor"], "wire": runs["wire"]})
    table = markdown_table(build_rows(groups)).replace(
        TABLE_HEADER, "| metric | after | before | after / before, 95 % interval |"
    )
    print(table)
    print()
    print(samples_section(runs))


if __name__ == "__main__":
    main()
