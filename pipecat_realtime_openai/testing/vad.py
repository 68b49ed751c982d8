"""Energy-based stand-in for the server's voice activity detection (pure logic).

The real server runs a neural VAD; the simulator only needs something predictable that
reacts to what a test feeds it, so it compares the RMS level of each 10 ms window with a
level derived from the session's ``threshold``:

    level_dbfs = -70 + 60 * threshold        (threshold 0.5 -> -40 dBFS, RMS ~328)

A window at or above that level is speech. Speech starts at the first loud window
(reported ``prefix_padding_ms`` earlier, clamped to the buffer start) and stops once
``silence_duration_ms`` of consecutive quiet windows have passed; ``audio_end_ms`` is the
end of that silence, as on the real server. ``semantic_vad`` is simulated the same way
with a silence that depends on its ``eagerness`` (see `SEMANTIC_SILENCE_MS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

WINDOW_MS = 10
FULL_SCALE = 32768.0

SEMANTIC_SILENCE_MS = {"low": 1200, "medium": 600, "auto": 600, "high": 250}
SEMANTIC_THRESHOLD = 0.5
SEMANTIC_PREFIX_MS = 300


def threshold_to_rms(threshold: float) -> float:
    """Map a session VAD ``threshold`` (0..1) to the RMS a 10 ms window must reach.

    Args:
        threshold: The session's VAD threshold.

    Returns:
        RMS in int16 units (full scale 32768).
    """
    level_dbfs = -70.0 + 60.0 * min(max(threshold, 0.0), 1.0)
    return FULL_SCALE * 10.0 ** (level_dbfs / 20.0)


@dataclass(frozen=True)
class VadSettings:
    """The knobs of the simulated VAD, resolved from a session's ``turn_detection``.

    Attributes:
        threshold: 0..1, mapped to an RMS level by `threshold_to_rms`.
        prefix_padding_ms: Audio kept before the detected start.
        silence_duration_ms: Quiet time that ends a turn.
        create_response: Whether a turn end starts a response.
        interrupt_response: Whether speech cancels the active response.
        idle_timeout_ms: Server VAD only: input audio without speech, after a response,
            that makes the server commit it and answer (None: never).
    """

    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool
    interrupt_response: bool
    idle_timeout_ms: int | None = None

    @classmethod
    def from_turn_detection(cls, turn_detection: dict[str, Any] | None) -> VadSettings | None:
        """Build settings from the session's ``turn_detection`` (None when VAD is off)."""
        if not turn_detection:
            return None
        create = bool(turn_detection.get("create_response", True))
        interrupt = bool(turn_detection.get("interrupt_response", True))
        if turn_detection.get("type") == "semantic_vad":
            eagerness = turn_detection.get("eagerness") or "auto"
            return cls(
                SEMANTIC_THRESHOLD,
                SEMANTIC_PREFIX_MS,
                SEMANTIC_SILENCE_MS.get(eagerness, 600),
                create,
                interrupt,
            )
        idle = turn_detection.get("idle_timeout_ms")
        return cls(
            float(turn_detection.get("threshold", 0.5) or 0.5),
            int(turn_detection.get("prefix_padding_ms", 300) or 0),
            int(turn_detection.get("silence_duration_ms", 200) or 0),
            create,
            interrupt,
            int(idle) if idle else None,
        )


@dataclass(frozen=True)
class VadEvent:
    """A speech boundary found by `EnergyVad`.

    Attributes:
        kind: ``"started"`` or ``"stopped"``.
        at_ms: Session audio time of the boundary (start already includes the prefix).
    """

    kind: Literal["started", "stopped"]
    at_ms: int


class EnergyVad:
    """Finds speech starts and stops in a stream of 16-bit samples, window by window."""

    def __init__(self, settings: VadSettings) -> None:
        """Create a detector.

        Args:
            settings: Threshold, padding and silence to apply.
        """
        self.settings = settings
        self._rms_level = threshold_to_rms(settings.threshold)
        self._pending = np.zeros(0, dtype=np.int16)
        self._pending_start_ms = 0.0
        self.speaking = False
        self._silent_ms = 0

    def reset(self) -> None:
        """Forget any speech in progress (after a commit or clear)."""
        self.speaking = False
        self._silent_ms = 0

    def feed(
        self, samples: np.ndarray, sample_rate: int, start_ms: float, floor_ms: float
    ) -> list[VadEvent]:
        """Analyse more audio.

        Args:
            samples: int16 samples that follow the previous call's.
            sample_rate: Their sample rate.
            start_ms: Session time of the first sample.
            floor_ms: Session time of the input buffer start; a speech start is never
                reported before it.

        Returns:
            Boundaries found, in order.
        """
        if not len(self._pending):
            self._pending_start_ms = start_ms
        audio = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        window = max(1, sample_rate * WINDOW_MS // 1000)
        whole = len(audio) // window
        events: list[VadEvent] = []
        if whole:
            frames = audio[: whole * window].astype(np.float64).reshape(whole, window)
            loud = np.sqrt(np.mean(frames * frames, axis=1)) >= self._rms_level
            for index, is_loud in enumerate(loud):
                window_start = self._pending_start_ms + index * WINDOW_MS
                events.extend(self._step(bool(is_loud), window_start, floor_ms))
        self._pending = audio[whole * window :].copy()
        self._pending_start_ms += whole * WINDOW_MS
        return events

    def _step(self, loud: bool, window_start: float, floor_ms: float) -> list[VadEvent]:
        if not self.speaking:
            if not loud:
                return []
            self.speaking = True
            self._silent_ms = 0
            start = max(window_start - self.settings.prefix_padding_ms, floor_ms, 0)
            return [VadEvent("started", int(start))]
        if loud:
            self._silent_ms = 0
            return []
        self._silent_ms += WINDOW_MS
        if self._silent_ms < self.settings.silence_duration_ms:
            return []
        self.speaking = False
        self._silent_ms = 0
        return [VadEvent("stopped", int(window_start + WINDOW_MS))]
