"""G.711 mu-law and A-law companding for 16-bit PCM, via lookup tables built once.

The tables reproduce the ITU-T G.711 reference behaviour (the Sun Microsystems g711.c
algorithm that CPython's `audioop` also uses), so output is bit-exact with
`audioop.lin2ulaw`, `audioop.ulaw2lin`, `audioop.lin2alaw` and `audioop.alaw2lin` for
16-bit samples. Encoding is one table lookup per sample indexed by the sample's 16-bit
pattern; decoding indexes a 256-entry table.
"""

from __future__ import annotations

import numpy as np

# Segment end points of the reference algorithm: mu-law works on 14-bit magnitudes,
# A-law on 13-bit ones.
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159


def _all_int16() -> np.ndarray:
    # Ordered by the unsigned bit pattern so a uint16 view of a sample is its table index.
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encode() -> np.ndarray:
    pcm = _all_int16() >> 2
    negative = pcm < 0
    magnitude = np.minimum(np.where(negative, -pcm, pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    mask = np.where(negative, 0x7F, 0xFF)
    seg = np.searchsorted(_ULAW_SEG_END, magnitude, side="left")
    code = (np.minimum(seg, 7) << 4) | ((magnitude >> (np.minimum(seg, 7) + 1)) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _build_alaw_encode() -> np.ndarray:
    pcm = _all_int16() >> 3
    negative = pcm < 0
    magnitude = np.where(negative, -pcm - 1, pcm)
    mask = np.where(negative, 0x55, 0xD5)
    seg = np.searchsorted(_ALAW_SEG_END, magnitude, side="left")
    clamped = np.minimum(seg, 7)
    shift = np.where(clamped < 2, 1, clamped)
    code = (clamped << 4) | ((magnitude >> shift) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _build_ulaw_decode() -> np.ndarray:
    inverted = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((inverted & 0x0F) << 3) + _ULAW_BIAS) << ((inverted & 0x70) >> 4)
    value = np.where(inverted & 0x80, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS)
    return value.astype(np.int16)


def _build_alaw_decode() -> np.ndarray:
    toggled = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (toggled & 0x70) >> 4
    base = (toggled & 0x0F) << 4
    magnitude = np.where(seg == 0, base + 8, (base + 0x108) << np.maximum(seg - 1, 0))
    value = np.where(toggled & 0x80, magnitude, -magnitude)
    return value.astype(np.int16)


_ULAW_ENCODE = _build_ulaw_encode()
_ALAW_ENCODE = _build_alaw_encode()
_ULAW_DECODE = _build_ulaw_decode()
_ALAW_DECODE = _build_alaw_decode()


def _samples_as_index(pcm: bytes | bytearray | memoryview) -> np.ndarray:
    if len(pcm) % 2:
        raise ValueError(f"16-bit PCM needs an even number of bytes, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<u2")


def pcm16_to_ulaw(pcm: bytes | bytearray | memoryview) -> bytes:
    """Encode 16-bit little-endian PCM to G.711 mu-law, one byte per sample.

    Args:
        pcm: Signed 16-bit little-endian samples.

    Returns:
        The mu-law bytes (half the input length).

    Raises:
        ValueError: When `pcm` has an odd length.
    """
    return _ULAW_ENCODE[_samples_as_index(pcm)].tobytes()


def pcm16_to_alaw(pcm: bytes | bytearray | memoryview) -> bytes:
    """Encode 16-bit little-endian PCM to G.711 A-law, one byte per sample.

    Args:
        pcm: Signed 16-bit little-endian samples.

    Returns:
        The A-law bytes (half the input length).

    Raises:
        ValueError: When `pcm` has an odd length.
    """
    return _ALAW_ENCODE[_samples_as_index(pcm)].tobytes()


def ulaw_to_pcm16(data: bytes | bytearray | memoryview) -> bytes:
    """Decode G.711 mu-law bytes to 16-bit little-endian PCM.

    Args:
        data: Mu-law codes, one per sample.

    Returns:
        Signed 16-bit little-endian samples (twice the input length).
    """
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def alaw_to_pcm16(data: bytes | bytearray | memoryview) -> bytes:
    """Decode G.711 A-law bytes to 16-bit little-endian PCM.

    Args:
        data: A-law codes, one per sample.

    Returns:
        Signed 16-bit little-endian samples (twice the input length).
    """
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()
