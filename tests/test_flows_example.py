"""examples/flows_bot.py runs against the simulator without a key and completes the order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "flows_bot.py"


def test_the_flows_example_takes_an_order_without_a_key():
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "bot: Hi, this is Tom. What can I get you?"
    assert "bot: Thank you, goodbye!" in lines
    assert lines[-1] == "order: {'pizza': 'margherita', 'size': 'large'}"
