"""Models OpenAI has scheduled for shutdown, and the warning a session using one gets.

A bot configured years ago keeps naming the model it was written for. When that model
shuts down, every connection is refused and the bot goes silent, so the service says
so once, at start, while there is still time to move, and names the replacement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipecat_realtime_openai.protocol.session import (
    DEFAULT_REALTIME_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
)


@dataclass(frozen=True, slots=True)
class Retirement:
    """One model's shutdown.

    Attributes:
        model: The model name (dated snapshots of it, ``<model>-YYYY-MM-DD``, count too).
        shuts_down: The first day the API refuses it.
        replacement: What to use instead.
    """

    model: str
    shuts_down: date
    replacement: str


RETIREMENTS: tuple[Retirement, ...] = (
    Retirement("gpt-realtime", date(2027, 1, 20), DEFAULT_REALTIME_MODEL),
    Retirement("gpt-realtime-mini", date(2027, 1, 20), DEFAULT_REALTIME_MODEL),
    Retirement("whisper-1", date(2027, 2, 26), DEFAULT_TRANSCRIPTION_MODEL),
    Retirement("gpt-4o-transcribe", date(2027, 2, 26), DEFAULT_TRANSCRIPTION_MODEL),
    Retirement("gpt-4o-mini-transcribe", date(2027, 2, 26), DEFAULT_TRANSCRIPTION_MODEL),
)

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")
_BY_NAME = {retirement.model: retirement for retirement in RETIREMENTS}


def retirement_of(model: str) -> Retirement | None:
    """Return the scheduled shutdown of a model (or of the model a snapshot is of)."""
    return _BY_NAME.get(model) or _BY_NAME.get(_SNAPSHOT.sub("", model))


def retirement_warning(model: str, today: date, role: str = "model") -> str | None:
    """Say that a model is retired or about to be, and what replaces it.

    Args:
        model: The model name as configured.
        today: The date to judge by.
        role: What the model is used for, for the sentence ("model",
            "transcription model").

    Returns:
        One sentence, or None when the model has no scheduled shutdown.
    """
    retirement = retirement_of(model)
    if retirement is None:
        return None
    day = retirement.shuts_down.isoformat()
    if today >= retirement.shuts_down:
        return (
            f"the {role} {model!r} was shut down on {day}: the server refuses it; "
            f"use {retirement.replacement!r}"
        )
    return (
        f"the {role} {model!r} shuts down on {day} ({(retirement.shuts_down - today).days} "
        f"days from now); move to {retirement.replacement!r} before then"
    )


def session_retirement_warnings(
    model: str | None, session: Mapping[str, Any], today: date
) -> dict[str, str]:
    """Warnings for the realtime model and the transcription model of a session.

    Args:
        model: The realtime model of the connection (from its URL).
        session: The GA session wire dict being sent.
        today: The date to judge by.

    Returns:
        A sentence per retired or retiring model, by model name (empty when all are
        current).
    """
    warnings: dict[str, str] = {}
    if model:
        warning = retirement_warning(model, today)
        if warning is not None:
            warnings[model] = warning
    audio = session.get("audio")
    audio_input = audio.get("input") if isinstance(audio, Mapping) else None
    transcription = audio_input.get("transcription") if isinstance(audio_input, Mapping) else None
    transcriber = transcription.get("model") if isinstance(transcription, Mapping) else None
    if isinstance(transcriber, str):
        warning = retirement_warning(transcriber, today, "transcription model")
        if warning is not None:
            warnings[transcriber] = warning
    return warnings
