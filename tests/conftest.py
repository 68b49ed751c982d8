"""Shared test helpers: where the recorded real sessions live."""

from pathlib import Path

import pytest

RECORDED_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "recorded"


def recorded_dir(provider: str) -> Path:
    """Return the folder of recorded sessions for a provider, or skip the test cleanly."""
    folder = RECORDED_DIR / provider
    if not folder.is_dir():
        pytest.skip(f"recorded sessions not found at {folder} (../shared is only beside CI clones)")
    return folder
