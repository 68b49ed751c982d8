"""Where the CPU goes: Markdown summaries of the cProfile stats ``bench_worker.py`` writes.

Run: ``python benchmarks/bench_profile.py <file.pstats> [--top 15]``, or let
``bench_service.py --profile DIR`` call it. Percentages are of the busy time: the time
the event loop spent blocked in ``select``/``epoll`` (waiting for the simulator) is
left out, since it is no CPU.
"""

from __future__ import annotations

import argparse
import pstats
import sys
from dataclasses import dataclass
from pathlib import Path

IDLE_FUNCTIONS = {"<method 'poll' of 'select.epoll' objects>", "<method 'select' of"}
OWN_PACKAGE = "pipecat_realtime_openai"
_PREFIXES = (
    "site-packages/",
    str(Path(__file__).resolve().parents[1]) + "/",
    f"lib/python{sys.version_info.major}.{sys.version_info.minor}/",
)


@dataclass(frozen=True)
class FunctionTime:
    """Time of one function in a profile."""

    name: str
    calls: int
    self_s: float
    cumulative_s: float


def function_times(stats: pstats.Stats) -> list[FunctionTime]:
    """Every profiled function with its self and cumulative time."""
    times = []
    # pstats keeps its table in a private attribute; there is no public accessor.
    for (filename, line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        calls, _, self_s, cumulative_s = row[0], row[1], row[2], row[3]
        name = function if filename == "~" else f"{short_path(filename)}:{line}({function})"
        times.append(FunctionTime(name, calls, self_s, cumulative_s))
    return times


def short_path(filename: str) -> str:
    """The path from the package root (``pipecat/...``, ``asyncio/...``)."""
    for marker in _PREFIXES:
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def is_idle(entry: FunctionTime) -> bool:
    return any(entry.name.startswith(idle) for idle in IDLE_FUNCTIONS)


def summarize(path: Path, top: int = 15) -> str:
    """Markdown: busy time, top functions by self time, and our package's entry points.

    Args:
        path: A ``.pstats`` file.
        top: Rows per table.
    """
    times = function_times(pstats.Stats(str(path)))
    idle = sum(t.self_s for t in times if is_idle(t))
    busy = sum(t.self_s for t in times) - idle
    lines = [
        f"### {path.stem}: {busy:.2f} s busy (profiled; {idle:.2f} s idle left out)",
        "",
        "Top functions by self time:",
        "",
        "| function | calls | self % | cumulative % |",
        "|---|---:|---:|---:|",
    ]
    busiest = sorted((t for t in times if not is_idle(t)), key=lambda t: -t.self_s)
    lines += [row(t, busy) for t in busiest[:top]]
    own = sorted((t for t in times if OWN_PACKAGE in t.name), key=lambda t: -t.cumulative_s)
    if own:
        lines += [
            "",
            f"{OWN_PACKAGE} functions by cumulative time (includes what they call,",
            "e.g. Pipecat's push_frame):",
            "",
            "| function | calls | self % | cumulative % |",
            "|---|---:|---:|---:|",
        ]
        lines += [row(t, busy) for t in own[:top]]
    return "\n".join(lines) + "\n"


def row(entry: FunctionTime, busy: float) -> str:
    return (
        f"| `{entry.name}` | {entry.calls} | {100 * entry.self_s / busy:.1f} "
        f"| {100 * entry.cumulative_s / busy:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    for path in args.paths:
        print(summarize(path, args.top))


if __name__ == "__main__":
    main()
