"""Run the Realtime simulator standalone: ``python -m pipecat_realtime_openai.testing``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from pipecat_realtime_openai.testing.dialects import DIALECTS
from pipecat_realtime_openai.testing.faults import Faults
from pipecat_realtime_openai.testing.server import RealtimeSimulator


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the standalone simulator."""
    parser = argparse.ArgumentParser(
        prog="python -m pipecat_realtime_openai.testing",
        description="Local OpenAI Realtime (GA) simulator: echoes what it hears.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument(
        "--api-key", default=None, help="expected API key (default: accept any key)"
    )
    parser.add_argument(
        "--pace",
        choices=("fast", "realtime"),
        default="realtime",
        help="reply audio streaming speed (default realtime)",
    )
    parser.add_argument(
        "--dialect",
        choices=DIALECTS,
        default="openai",
        help="provider to speak like (default openai); its path, e.g. /openai/v1/realtime"
        " for azure",
    )
    parser.add_argument(
        "--session-minutes",
        type=float,
        default=60.0,
        help="session lifetime before session_expired (default 60)",
    )
    return parser


async def serve_forever(simulator: RealtimeSimulator) -> None:
    """Run `simulator` until cancelled."""
    async with simulator:
        print(f"Realtime simulator listening on {simulator.base_url}", flush=True)
        await asyncio.Future()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the standalone simulator."""
    args = build_parser().parse_args(argv)
    simulator = RealtimeSimulator(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        pace=args.pace,
        dialect=args.dialect,
        faults=Faults(session_max_seconds=args.session_minutes * 60),
    )
    try:
        asyncio.run(serve_forever(simulator))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
