"""Session audio formats and the byte <-> millisecond arithmetic that depends on them.

The Realtime API names its audio formats `audio/pcm` (16-bit little-endian mono, 24 kHz on
OpenAI; other rates on some compatible servers), `audio/pcmu` and `audio/pcma` (G.711 at
8 kHz, one byte per sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PCM_TYPE = "audio/pcm"
PCMU_TYPE = "audio/pcmu"
PCMA_TYPE = "audio/pcma"

_PCM_DEFAULT_RATE = 24000
_G711_RATE = 8000

# Beta-protocol names (still spoken by Azure's preview endpoint) mapped to GA wire types.
_LEGACY_NAMES = {
    "pcm16": PCM_TYPE,
    "g711_ulaw": PCMU_TYPE,
    "g711_alaw": PCMA_TYPE,
}


@dataclass(frozen=True, slots=True)
class AudioFormatSpec:
    """One wire audio format of a Realtime session.

    Attributes:
        wire_type: The GA wire name: "audio/pcm", "audio/pcmu" or "audio/pcma".
        sample_rate: Samples per second on the wire.
        bytes_per_sample: 2 for 16-bit PCM, 1 for G.711.
    """

    wire_type: str
    sample_rate: int
    bytes_per_sample: int

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.bytes_per_sample not in (1, 2):
            raise ValueError(f"bytes_per_sample must be 1 or 2, got {self.bytes_per_sample}")

    @property
    def is_g711(self) -> bool:
        """Whether samples are G.711 companded bytes (pcmu or pcma)."""
        return self.wire_type in (PCMU_TYPE, PCMA_TYPE)

    @property
    def bytes_per_second(self) -> int:
        """Wire bytes carried by one second of audio."""
        return self.sample_rate * self.bytes_per_sample

    @property
    def bytes_per_ms(self) -> float:
        """Wire bytes per millisecond (48.0 for pcm at 24 kHz, 8.0 for G.711)."""
        return self.bytes_per_second / 1000

    def ms_from_bytes(self, n: int) -> int:
        """Duration in whole milliseconds of `n` wire bytes, rounded down.

        Truncation requests use this value, and the server rejects an `audio_end_ms` past the
        audio it generated, so this never rounds up.

        Args:
            n: Number of wire bytes (negative values count as 0).

        Returns:
            The floor of the duration in milliseconds.
        """
        if n <= 0:
            return 0
        # Integer arithmetic: a float division could land a hair above the true value.
        return (n * 1000) // self.bytes_per_second

    def bytes_from_ms(self, ms: int | float) -> int:
        """Wire bytes covering `ms` milliseconds, rounded down to whole samples.

        Args:
            ms: Duration in milliseconds (negative values count as 0).

        Returns:
            A byte count that is always a multiple of `bytes_per_sample`.
        """
        if ms <= 0:
            return 0
        samples = int(ms * self.sample_rate // 1000)
        return samples * self.bytes_per_sample

    @classmethod
    def from_session_format(cls, fmt: Any) -> AudioFormatSpec:
        """Build a spec from a session audio format in any of its usual shapes.

        Args:
            fmt: A mapping such as `{"type": "audio/pcmu"}` or
                `{"type": "audio/pcm", "rate": 24000}`, an object with `.type` (and optional
                `.rate`) attributes such as a protocol model, an `AudioFormatSpec`, or a bare
                type string (GA names or the beta names "pcm16", "g711_ulaw", "g711_alaw").

        Returns:
            The matching spec; pcm without a rate means 24 kHz.

        Raises:
            ValueError: When the type is missing or unknown, or the rate is not a positive
                integer.
        """
        if isinstance(fmt, AudioFormatSpec):
            return fmt
        if isinstance(fmt, str):
            wire_type: Any = fmt
            rate: Any = None
        elif isinstance(fmt, Mapping):
            wire_type = fmt.get("type")
            rate = fmt.get("rate")
        else:
            wire_type = getattr(fmt, "type", None)
            rate = getattr(fmt, "rate", None)
        if not isinstance(wire_type, str):
            raise ValueError(f"audio format has no type: {fmt!r}")
        wire_type = _LEGACY_NAMES.get(wire_type, wire_type)
        if wire_type == PCM_TYPE:
            if rate is None:
                return PCM24K
            if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
                raise ValueError(f"invalid pcm rate: {rate!r}")
            if int(rate) != rate:
                raise ValueError(f"pcm rate must be a whole number of Hz: {rate!r}")
            return cls(PCM_TYPE, int(rate), 2)
        if wire_type == PCMU_TYPE:
            return PCMU
        if wire_type == PCMA_TYPE:
            return PCMA
        raise ValueError(f"unsupported audio format type: {wire_type!r}")

    def to_session_format(self) -> dict[str, Any]:
        """Return the wire dict for a session's audio `format` field."""
        if self.wire_type == PCM_TYPE:
            return {"type": PCM_TYPE, "rate": self.sample_rate}
        return {"type": self.wire_type}


PCM24K = AudioFormatSpec(PCM_TYPE, _PCM_DEFAULT_RATE, 2)
PCMU = AudioFormatSpec(PCMU_TYPE, _G711_RATE, 1)
PCMA = AudioFormatSpec(PCMA_TYPE, _G711_RATE, 1)
