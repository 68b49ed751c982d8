"""Synthetic "speech" for replies: real audio whose length follows the text.

Each non-space character lasts `MS_PER_CHAR` ms of a voiced, vowel-like sound (a 140 Hz
fundamental with a few harmonics and a syllable-rate envelope); spaces are short
pauses. The result is loud enough to trip an energy VAD and to look like speech on a
level meter, and its duration is predictable for truncation tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.testing.audio_codec import encode_samples

MS_PER_CHAR = 60
MIN_REPLY_MS = 200
_FUNDAMENTAL_HZ = 140.0
_AMPLITUDE = 0.25 * 32767

_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]+|\s+")


def tokenize(text: str) -> list[str]:
    """Split text into deltas the way the real server streams it (``"Hi", " there", "!"``)."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class SpokenText:
    """Synthetic audio for a text, with where each token starts in it.

    Attributes:
        audio: Wire bytes in the output format.
        tokens: Transcript deltas, in order.
        token_start_ms: Start time of each token in the audio.
        duration_ms: Length of the audio.
    """

    audio: bytes
    tokens: list[str]
    token_start_ms: list[float]
    duration_ms: float


def speak(text: str, spec: AudioFormatSpec, speed: float = 1.0) -> SpokenText:
    """Synthesize `text` in the output format `spec`.

    Args:
        text: The words to "say".
        spec: The session's output audio format.
        speed: The session's voice speed (higher means shorter audio).

    Returns:
        The audio and the token timing.
    """
    speed = speed if speed and speed > 0 else 1.0
    ms_per_char = MS_PER_CHAR / speed
    tokens = tokenize(text)
    starts: list[float] = []
    offset = 0
    for token in tokens:
        starts.append(offset * ms_per_char)
        offset += len(token)
    duration_ms = max(MIN_REPLY_MS, len(text) * ms_per_char)
    rate = spec.sample_rate
    count = int(duration_ms * rate / 1000)
    t = np.arange(count) / rate
    voice = sum(
        np.sin(2 * np.pi * _FUNDAMENTAL_HZ * h * t) / h
        for h in (1, 2, 3, 4)
        if _FUNDAMENTAL_HZ * h < rate / 2
    )
    # A 4 Hz syllable envelope, never fully silent inside a word.
    envelope = 0.6 + 0.4 * np.abs(np.sin(2 * np.pi * 4.0 * t))
    per_char = np.minimum((t * 1000 / ms_per_char).astype(int), max(len(text) - 1, 0))
    voiced = np.array([not ch.isspace() for ch in text] or [True])[per_char]
    samples = (_AMPLITUDE * 0.5 * voice * envelope * voiced).astype(np.int16)
    return SpokenText(encode_samples(spec, samples), tokens, starts, duration_ms)
