"""Decode and encode session-format audio to and from 16-bit PCM samples (numpy)."""

from __future__ import annotations

import numpy as np

from pipecat_realtime_openai.audio.formats import PCMA_TYPE, PCMU_TYPE, AudioFormatSpec
from pipecat_realtime_openai.audio.g711 import (
    alaw_to_pcm16,
    pcm16_to_alaw,
    pcm16_to_ulaw,
    ulaw_to_pcm16,
)


def decode_samples(spec: AudioFormatSpec, data: bytes) -> np.ndarray:
    """Turn wire bytes of `spec` into int16 samples at the format's own rate.

    Args:
        spec: The session audio format the bytes are in.
        data: Wire bytes (a trailing odd byte of 16-bit PCM is ignored).

    Returns:
        A 1-D int16 array.
    """
    if spec.wire_type == PCMU_TYPE:
        data = ulaw_to_pcm16(data)
    elif spec.wire_type == PCMA_TYPE:
        data = alaw_to_pcm16(data)
    usable = len(data) - len(data) % 2
    return np.frombuffer(data[:usable], dtype="<i2")


def encode_samples(spec: AudioFormatSpec, samples: np.ndarray) -> bytes:
    """Turn int16 samples at the format's rate into wire bytes of `spec`.

    Args:
        spec: The session audio format to produce.
        samples: 1-D int16 samples.

    Returns:
        The wire bytes.
    """
    pcm = samples.astype("<i2", copy=False).tobytes()
    if spec.wire_type == PCMU_TYPE:
        return pcm16_to_ulaw(pcm)
    if spec.wire_type == PCMA_TYPE:
        return pcm16_to_alaw(pcm)
    return pcm
