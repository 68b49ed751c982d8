"""Where the CPU goes: Markdown summaries of profiles of ``bench_worker.py``.

Two inputs are understood:

- ``.pstats`` files of cProfile (``bench_service.py --profile DIR`` writes and
  summarizes them). cProfile adds a cost to every Python call, so it overstates
  call-heavy code; use it for call counts and rough shares.
- ``.txt`` collapsed stacks of py-spy (``py-spy record -f raw``; see README.md), a
  sampling profiler that does not slow the code down: the more faithful shares.

Run: ``python benchmarks/bench_profile.py <file.pstats|file.txt>... [--top 15]``.
Percentages are of the busy time: time blocked in ``select``/``epoll`` waiting for
the simulator, and module imports, are left out.
"""

from __future__ import annotations

import argparse
import pstats
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

IDLE_FUNCTIONS = ("<method 'poll' of 'select.epoll' objects>", "<method 'select' of")
OWN_PACKAGE = "pipecat_realtime_openai"
# Where a sample's innermost frame lives, by path prefix (first match wins): which part
# of the busy time is this package's, the built-in service's, Pipecat's or the socket's.
PACKAGES = (
    ("pipecat/services/openai/realtime/", "the built-in service"),
    (f"{OWN_PACKAGE}/", "this package"),
    ("pipecat/", "Pipecat"),
    ("websockets/", "websockets"),
    ("asyncio/", "asyncio"),
    ("pydantic", "pydantic"),
    ("json/", "json"),
    ("loguru/", "loguru"),
    ("numpy/", "numpy"),
    ("benchmarks/", "the benchmark (driver and sink)"),
    ("bench_", "the benchmark (driver and sink)"),
)
_PREFIXES = (
    "site-packages/",
    str(Path(__file__).resolve().parents[1]) + "/",
    f"lib/python{sys.version_info.major}.{sys.version_info.minor}/",
)
# py-spy frame: "Class.method (/abs/path/file.py:123)".
_PYSPY_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*?)(?::\d+)?\)$")


@dataclass(frozen=True)
class FunctionTime:
    """Share of one function in a profile (seconds for cProfile, samples for py-spy)."""

    name: str
    calls: int
    self_time: float
    inclusive_time: float


def short_path(filename: str) -> str:
    """The path from the package root (``pipecat/...``, ``asyncio/...``)."""
    for marker in _PREFIXES:
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def pstats_times(path: Path) -> tuple[list[FunctionTime], float]:
    """Functions of a cProfile file and the busy seconds (idle polling left out)."""
    stats = pstats.Stats(str(path))
    times = []
    # pstats keeps its table in an attribute it does not document; there is no accessor.
    for (filename, line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        calls, _, self_s, cumulative_s = row[0], row[1], row[2], row[3]
        name = function if filename == "~" else f"{short_path(filename)}:{line}({function})"
        times.append(FunctionTime(name, calls, self_s, cumulative_s))
    busy = [t for t in times if not t.name.startswith(IDLE_FUNCTIONS)]
    return busy, sum(t.self_time for t in busy)


def pyspy_frame_name(frame: str) -> str:
    """``Class.method (package/module.py)``: the line number dropped, the path shortened."""
    match = _PYSPY_FRAME.match(frame)
    if match is None:
        return frame
    return f"{match['function']} ({short_path(match['path'])})"


def busy_stacks(path: Path) -> list[tuple[list[str], int]]:
    """The busy samples of a py-spy collapsed-stack file: (frames, count) per stack.

    Only samples taken while the event loop ran a callback count: startup, module
    imports and the process's own teardown are left out.
    """
    stacks = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, count_text = line.rsplit(" ", 1)
        frames = [pyspy_frame_name(f) for f in stack.split(";")]
        if not any(f.startswith("Handle._run ") for f in frames):
            continue
        if any(f.startswith("<module>") for f in frames[1:]):
            continue
        stacks.append((frames, int(count_text)))
    return stacks


def pyspy_times(path: Path) -> tuple[list[FunctionTime], float]:
    """Functions of a py-spy collapsed-stack file and the busy sample count."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for frames, count in busy_stacks(path):
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    times = [FunctionTime(name, 0, own[name], inclusive[name]) for name in inclusive]
    return times, float(total)


def package_of(frame: str) -> str:
    """The package a py-spy frame name (``function (path)``) belongs to, or "other"."""
    match = _PYSPY_FRAME.match(frame)
    path = short_path(match["path"]) if match is not None else ""
    for prefix, package in PACKAGES:
        if path.startswith(prefix):
            return package
    return "other (standard library, C)"


def package_shares(path: Path) -> Counter[str]:
    """Busy samples of a py-spy file by the package of each sample's innermost frame."""
    shares: Counter[str] = Counter()
    for frames, count in busy_stacks(path):
        shares[package_of(frames[-1])] += count
    return shares


def summarize(path: Path, top: int = 15) -> str:
    """Markdown: top functions by self time, and our package's functions by inclusive time.

    Args:
        path: A cProfile ``.pstats`` file or a py-spy collapsed-stack ``.txt`` file.
        top: Rows per table.
    """
    sampled = path.suffix == ".txt"
    times, busy = pyspy_times(path) if sampled else pstats_times(path)
    if busy <= 0:
        return f"### {path.name}: no busy samples\n"
    unit = f"{busy:.0f} samples" if sampled else f"{busy:.2f} s (profiled)"
    lines = [f"### {path.name}: {unit} busy", ""]
    if sampled:
        lines += ["By package (each sample under its innermost frame):", ""]
        lines += ["| package | share % |", "|---|---:|"]
        for package, count in package_shares(path).most_common():
            lines.append(f"| {package} | {100 * count / busy:.1f} |")
        lines.append("")
    lines += table("Top functions by self time:", top_by(times, "self", top), busy, sampled)
    own = [t for t in times if OWN_PACKAGE in t.name]
    if own:
        title = f"{OWN_PACKAGE} functions by inclusive time (with what they call):"
        lines += ["", *table(title, top_by(own, "inclusive", top), busy, sampled)]
    return "\n".join(lines) + "\n"


def top_by(times: list[FunctionTime], key: str, top: int) -> list[FunctionTime]:
    """The `top` entries with the most self or inclusive time."""
    if key == "self":
        return sorted(times, key=lambda t: -t.self_time)[:top]
    return sorted(times, key=lambda t: -t.inclusive_time)[:top]


def table(title: str, entries: list[FunctionTime], busy: float, sampled: bool) -> list[str]:
    """Markdown table of `entries` with their shares of `busy`."""
    calls = "" if sampled else " calls |"
    lines = [title, "", f"| function |{calls} self % | inclusive % |"]
    lines.append("|---|" + ("---:|" if not sampled else "") + "---:|---:|")
    for entry in entries:
        count = "" if sampled else f" {entry.calls} |"
        lines.append(
            f"| `{entry.name}` |{count} {100 * entry.self_time / busy:.1f} "
            f"| {100 * entry.inclusive_time / busy:.1f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help=".pstats or py-spy .txt files")
    parser.add_argument("--top", type=int, default=15, help="rows per table (15)")
    args = parser.parse_args()
    for path in args.paths:
        print(summarize(path, args.top))


if __name__ == "__main__":
    main()
