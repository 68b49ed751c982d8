"""How sure the transcription model was of a transcript, from its token log probabilities.

With ``include: ["item.input_audio_transcription.logprobs"]`` the server sends the log
probability of each transcript token. A bot can ask again when the confidence is low
("Sorry, was that fifteen or fifty?") instead of acting on a misheard number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def transcript_confidence(logprobs: Sequence[Any] | None) -> float | None:
    """Return the geometric mean token probability of a transcript, in 0..1.

    Args:
        logprobs: The ``logprobs`` of ``...input_audio_transcription.completed``: dicts
            with a ``logprob`` number each.

    Returns:
        ``exp(mean(logprob))``, or None when there are no usable log probabilities.
    """
    if not logprobs:
        return None
    values = [
        entry["logprob"]
        for entry in logprobs
        if isinstance(entry, dict)
        and isinstance(entry.get("logprob"), int | float)
        and not isinstance(entry.get("logprob"), bool)
        and math.isfinite(entry["logprob"])
    ]
    if not values:
        return None
    return min(1.0, math.exp(sum(values) / len(values)))
