"""Pure arithmetic of the service benchmark: latency matching, percentiles, the table.

Kept apart from the processes and sockets of ``bench_service.py`` so it can be tested.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct`-th percentile of `values`, linearly interpolated between ranks.

    Args:
        values: Samples (any order, at least one).
        pct: 0..100.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def cpu_per_100s(cpu_seconds: float, audio_ms: float) -> float:
    """CPU seconds spent per 100 s of audio."""
    if audio_ms <= 0:
        raise ValueError("no audio was measured")
    return cpu_seconds * 100_000 / audio_ms


@dataclass(frozen=True)
class Matched:
    """Per-chunk latencies, and how many chunks never completed on the far side.

    Attributes:
        latencies_ms: One latency per completed chunk, in chunk order.
        missing: Chunks whose audio never fully arrived.
    """

    latencies_ms: list[float]
    missing: int


def match_chunks(
    sent_ns: Sequence[int],
    sent_ms: Sequence[float],
    arrived_ns: Sequence[int],
    arrived_ms: Sequence[float],
    tolerance_ms: float = 0.01,
) -> Matched:
    """Latency of each sent chunk: until the audio up to its end has arrived.

    Chunks may be split, merged or delayed on the way (batching, resampling), so a
    chunk counts as arrived when the cumulative audio received reaches the cumulative
    audio sent up to the end of that chunk.

    Args:
        sent_ns: When each chunk was sent (monotonic ns), in order.
        sent_ms: Audio duration of each sent chunk.
        arrived_ns: When each piece arrived (monotonic ns), in order.
        arrived_ms: Audio duration of each piece that arrived.
        tolerance_ms: Rounding slack when comparing cumulative durations.

    Returns:
        The latencies (ms) of the chunks that arrived, and the count of those that did not.
    """
    if len(sent_ns) != len(sent_ms) or len(arrived_ns) != len(arrived_ms):
        raise ValueError("times and durations must have the same length")
    arrived_total = list(itertools.accumulate(arrived_ms))
    latencies: list[float] = []
    missing = 0
    for sent_at, chunk_end in zip(sent_ns, itertools.accumulate(sent_ms), strict=True):
        index = bisect.bisect_left(arrived_total, chunk_end - tolerance_ms)
        if index == len(arrived_total):
            missing += 1
            continue
        latencies.append((arrived_ns[index] - sent_at) / 1e6)
    return Matched(latencies, missing)


def ratio(ours: float, builtin: float) -> str:
    """``ours / builtin`` as text (``n/a`` when the built-in value is zero)."""
    if builtin == 0:
        return "n/a"
    return f"{ours / builtin:.2f}"


@dataclass(frozen=True)
class Row:
    """One line of the results table.

    Attributes:
        metric: What the row measures.
        ours: Our value.
        builtin: The built-in service's value.
        digits: Decimals shown.
        interval: 95 % bootstrap interval of the ratio, when there are samples to draw.
        exact: The value is a count that does not vary between runs (no interval needed).
        value: The ratio shown, when it is not ``ours / builtin`` (a paired estimate).
    """

    metric: str
    ours: float
    builtin: float
    digits: int = 3
    interval: tuple[float, float] | None = None
    exact: bool = False
    value: float | None = None

    def cells(self) -> list[str]:
        shown = ratio(self.ours, self.builtin) if self.value is None else f"{self.value:.2f}"
        if shown != "n/a":
            if self.exact:
                shown += " (exact)"
            elif self.interval is not None:
                low, high = self.interval
                shown += f" ({low:.2f}..{high:.2f})"
        return [
            self.metric,
            f"{self.ours:.{self.digits}f}",
            f"{self.builtin:.{self.digits}f}",
            shown,
        ]


TABLE_HEADER = "| metric | ours | built-in | ratio (ours / built-in), 95 % interval |"


def markdown_table(rows: Sequence[Row]) -> str:
    """Render rows as a Markdown table: metric | ours | built-in | ratio (interval)."""
    lines = [TABLE_HEADER, "|---|---:|---:|---:|"]
    lines.extend("| " + " | ".join(row.cells()) + " |" for row in rows)
    return "\n".join(lines)


@dataclass(frozen=True)
class Statistic:
    """How one row's value comes from a service's samples.

    Attributes:
        group: The samples it reads (``output_cpu``, ``output_latency``, ...).
        kind: ``median``, ``percentile`` or ``above`` (a median minus another service's).
        pct: The percentile, for ``percentile``.
        base: The service subtracted, for ``above`` (``floor`` or ``wire``).
    """

    group: str
    kind: str = "median"
    pct: float = 50.0
    base: str = ""

    def names(self, service: str) -> list[str]:
        """The sample groups this statistic reads for `service`."""
        names = [f"{service}.{self.group}"]
        if self.kind == "above":
            names.append(f"{self.base}.{self.group}")
        return names

    def of(self, draws: Mapping[str, np.ndarray], service: str) -> np.ndarray:
        """The statistic of every row of the drawn samples (one row per resample)."""
        own = draws[f"{service}.{self.group}"]
        if self.kind == "percentile":
            return np.percentile(own, self.pct, axis=1)
        value = np.median(own, axis=1)
        if self.kind == "above":
            value = value - np.median(draws[f"{self.base}.{self.group}"], axis=1)
        return value


def estimate(
    statistic: Statistic,
    groups: Mapping[str, Sequence[float]],
    *,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 12,
) -> tuple[float, float, tuple[float, float] | None]:
    """Ours, the built-in's, and a percentile-bootstrap interval of their ratio.

    Every sample group the statistic reads is resampled on its own (the runs of each
    service are independent), ``resamples`` times with a fixed seed, so the same samples
    always give the same interval.

    Args:
        statistic: How a value comes from samples.
        groups: Samples by ``"<service>.<group>"``.
        resamples: Bootstrap draws.
        level: Coverage of the interval.
        seed: Seed of the draws.

    Returns:
        (ours, built-in, interval); the interval is None when a group has a single
        sample or the built-in's value is zero in some draw.
    """
    names = sorted(set(statistic.names("ours") + statistic.names("builtin")))
    arrays = {name: np.asarray(groups[name], dtype=float) for name in names}
    whole = {name: values[np.newaxis, :] for name, values in arrays.items()}
    ours = float(statistic.of(whole, "ours")[0])
    builtin = float(statistic.of(whole, "builtin")[0])
    if min(len(values) for values in arrays.values()) < 2:
        return ours, builtin, None
    rng = np.random.default_rng(seed)
    draws = {
        name: values[rng.integers(0, len(values), size=(resamples, len(values)))]
        for name, values in arrays.items()
    }
    denominators = statistic.of(draws, "builtin")
    if np.any(denominators == 0):
        return ours, builtin, None
    return ours, builtin, _interval(statistic.of(draws, "ours") / denominators, level)


def _interval(ratios: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` share of the drawn ratios (percentile bootstrap)."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


def paired_estimate(
    statistic: Statistic,
    groups: Mapping[str, Sequence[float]],
    base: str,
    *,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 12,
) -> tuple[float, float, float, tuple[float, float] | None]:
    """Ours, the built-in's, their ratio and its interval, from rounds of matched runs.

    Sample ``i`` of every group comes from round ``i``, in which the services took turns
    under the same machine conditions. A shared host's conditions scale every run of a
    round alike (a busy neighbour, a slower core), so each round is divided by its
    ``base`` run (the floor) before the ratio is taken: the ratio is that of the medians
    of these per-round multiples of the floor (for ``above``, the multiples less one),
    and the bootstrap draws whole rounds. The values shown beside it are the plain
    medians, in seconds.

    Args:
        statistic: How a value comes from samples (``median`` or ``above``).
        groups: Samples by ``"<service>.<group>"``, one per round, in round order.
        base: The service each round is divided by (``floor``, ``wire``).
        resamples: Bootstrap draws.
        level: Coverage of the interval.
        seed: Seed of the draws.

    Returns:
        (ours, built-in, ratio, interval); the interval is None with a single round or
        when the built-in's value is zero in some draw.

    Raises:
        ValueError: When the groups differ in length or a base sample is not positive.
    """
    scale_name = f"{base}.{statistic.group}"
    names = sorted(set(statistic.names("ours") + statistic.names("builtin") + [scale_name]))
    arrays = {name: np.asarray(groups[name], dtype=float) for name in names}
    lengths = {len(values) for values in arrays.values()}
    if len(lengths) != 1:
        raise ValueError(f"paired samples need one per round in every group: {sorted(lengths)}")
    scale = arrays[scale_name]
    if np.any(scale <= 0):
        raise ValueError(f"{scale_name} must be positive in every round")
    whole = {name: values[np.newaxis, :] for name, values in arrays.items()}
    ours = float(statistic.of(whole, "ours")[0])
    builtin = float(statistic.of(whole, "builtin")[0])
    scaled = {name: values / scale for name, values in arrays.items()}
    shown = {name: values[np.newaxis, :] for name, values in scaled.items()}
    denominator = float(statistic.of(shown, "builtin")[0])
    value = float(statistic.of(shown, "ours")[0]) / denominator if denominator else math.nan
    count = lengths.pop()
    if count < 2:
        return ours, builtin, value, None
    rounds = np.random.default_rng(seed).integers(0, count, size=(resamples, count))
    draws = {name: values[rounds] for name, values in scaled.items()}
    denominators = statistic.of(draws, "builtin")
    if np.any(denominators == 0):
        return ours, builtin, value, None
    return ours, builtin, value, _interval(statistic.of(draws, "ours") / denominators, level)


def median(values: Sequence[float]) -> float:
    """Median of per-round values."""
    return statistics.median(values)


@dataclass(frozen=True)
class MedianInterval:
    """A distribution-free confidence interval for a median.

    Attributes:
        median: The sample median.
        low: Lower bound (an order statistic of the samples).
        high: Upper bound.
        coverage: The interval's exact coverage (at least the level asked, when the
            samples allow it; with too few samples, the widest interval's).
    """

    median: float
    low: float
    high: float
    coverage: float


def median_interval(values: Sequence[float], level: float = 0.95) -> MedianInterval:
    """Confidence interval of the median from order statistics (the sign-test interval).

    The k-th smallest and k-th largest samples bound the median with probability
    ``1 - 2 * P(Binomial(n, 1/2) < k)`` whatever the distribution: no normality is
    assumed, which suits CPU samples on a shared machine (skewed by interruptions).

    Args:
        values: Independent samples (interleaved runs), at least one.
        level: The coverage wanted.
    """
    if not values:
        raise ValueError("an interval of no values")
    ordered = sorted(values)
    n = len(ordered)

    def coverage(k: int) -> float:
        # P(order statistic k <= median <= order statistic n + 1 - k), k counted from 1.
        tail = sum(math.comb(n, i) for i in range(k)) / 2**n
        return 1 - 2 * tail

    k = 1
    while k + 1 <= (n + 1) // 2 and coverage(k + 1) >= level:
        k += 1
    return MedianInterval(statistics.median(ordered), ordered[k - 1], ordered[n - k], coverage(k))
