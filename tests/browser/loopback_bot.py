"""Run ``examples/foundational_bot.py`` as its README says, with WebRTC held to loopback.

Usage: ``python tests/browser/loopback_bot.py [runner options]``; the options go to
Pipecat's development runner unchanged.

aiortc (through aioice) offers host candidates on every interface except loopback, tries
every candidate the browser offers, and answers checks from any address. A test must
only send packets to 127.0.0.1, so here the bot offers 127.0.0.1 alone, ignores the
browser's other candidates and leaves checks from other addresses unanswered (Chromium
sends some from its other interfaces to 127.0.0.1). Nothing else about the bot changes:
the example runs as ``__main__``, as it does from a shell.
"""

from __future__ import annotations

import ipaddress
import runpy
import sys
from pathlib import Path
from typing import Any

import aioice.ice

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "foundational_bot.py"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        # An mDNS name: resolving it would mean multicast on the network.
        return False


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


_add_remote_candidate = aioice.ice.Connection.add_remote_candidate


async def _add_loopback_candidate(self: aioice.ice.Connection, candidate: Any) -> None:
    if candidate is None or _is_loopback(candidate.host):
        await _add_remote_candidate(self, candidate)


_request_received = aioice.ice.Connection.request_received


def _loopback_request_received(
    self: aioice.ice.Connection, message: Any, addr: tuple[str, int], protocol: Any
) -> None:
    if _is_loopback(addr[0]):
        _request_received(self, message, addr, protocol)


def main() -> None:
    """Patch aioice, then run the example as a script."""
    aioice.ice.get_host_addresses = _loopback_only
    aioice.ice.Connection.add_remote_candidate = _add_loopback_candidate  # type: ignore[method-assign]
    aioice.ice.Connection.request_received = _loopback_request_received  # type: ignore[method-assign]
    sys.argv = [str(EXAMPLE), *sys.argv[1:]]
    # The example imports its siblings (as the provider examples do) from its folder.
    sys.path.insert(0, str(EXAMPLE.parent))
    runpy.run_path(str(EXAMPLE), run_name="__main__")


if __name__ == "__main__":
    main()
