"""Counts that hold still where CPU seconds do not: wake-ups, socket writes, calls.

CPU time on a shared machine varies 20-30 % between samples. What a service does to
earn that time varies far less: how often the event loop wakes, how many socket writes
it makes, how many Python functions it calls. ``bench_worker.py`` counts those next to
the CPU seconds, so a change shows in the counts even when the seconds cannot tell.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OURS = str(ROOT / "pipecat_realtime_openai")
OURS_SIMULATOR = str(ROOT / "pipecat_realtime_openai" / "testing")


def builtin_package() -> str:
    """Folder of Pipecat's built-in Realtime service (its own code, not Pipecat's core)."""
    import pipecat.services.openai.realtime as builtin

    return str(Path(builtin.__file__).resolve().parent)


@dataclass
class LoopCounts:
    """What the event loop did in a window.

    Attributes:
        wakeups: Returns from the selector (each one a pass of the event loop).
        writes: Writes to the sockets of the simulator's ports.
        written_bytes: Bytes of those writes.
    """

    wakeups: int = 0
    writes: int = 0
    written_bytes: int = 0


@contextmanager
def loop_counts(ports: set[int]) -> Iterator[LoopCounts]:
    """Count event-loop wake-ups and socket writes to ``ports`` while the block runs.

    Wraps the running loop's selector and the selector transports' ``write``; both are
    restored afterwards.
    """
    counts = LoopCounts()
    loop = asyncio.get_running_loop()
    selector: Any = loop._selector  # type: ignore[attr-defined]
    select = selector.select
    transport_class: Any = asyncio.selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
    write = transport_class.write

    def counted_select(timeout: float | None = None) -> Any:
        events = select(timeout)
        counts.wakeups += 1
        return events

    def counted_write(transport: Any, data: Any) -> None:
        peer = transport.get_extra_info("peername")
        if peer is not None and peer[1] in ports:
            counts.writes += 1
            counts.written_bytes += len(data)
        write(transport, data)

    selector.select = counted_select
    transport_class.write = counted_write
    try:
        yield counts
    finally:
        selector.select = select
        transport_class.write = write


class CallCounter:
    """Counts Python function calls made while it is installed (``sys.setprofile``).

    Args:
        package: Folder whose functions count as the service's own.
        exclude: A folder inside it that does not (our simulator).
    """

    def __init__(self, package: str = OURS, exclude: str = OURS_SIMULATOR) -> None:
        self._package = package
        self._exclude = exclude
        self.package = 0
        self.total = 0

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            self.total += 1
            filename = frame.f_code.co_filename
            if filename.startswith(self._package) and not filename.startswith(self._exclude):
                self.package += 1
        elif event == "c_call":
            self.total += 1

    async def count(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` with the counter installed."""
        sys.setprofile(self._profile)
        try:
            await work()
        finally:
            sys.setprofile(None)
