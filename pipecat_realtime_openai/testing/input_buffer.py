"""The simulated input audio buffer: bytes in the session format, timed in session ms."""

from __future__ import annotations

from pipecat_realtime_openai.audio.formats import AudioFormatSpec

MIN_COMMIT_MS = 100


class InputAudioBuffer:
    """Uncommitted user audio, plus where it sits on the session's audio timeline.

    Session time counts every millisecond of audio ever appended, which is what the real
    server reports in ``audio_start_ms`` / ``audio_end_ms``.
    """

    def __init__(self, spec: AudioFormatSpec) -> None:
        """Create an empty buffer.

        Args:
            spec: The session's input audio format.
        """
        self.spec = spec
        self._data = bytearray()
        self.start_ms = 0.0

    @property
    def duration_ms(self) -> float:
        """Exact duration of the buffered audio (48 bytes/ms for pcm, 8 for G.711)."""
        return len(self._data) / self.spec.bytes_per_ms

    @property
    def end_ms(self) -> float:
        """Session time just after the last buffered sample."""
        return self.start_ms + self.duration_ms

    def set_format(self, spec: AudioFormatSpec) -> None:
        """Switch format; audio buffered in the old format is dropped, as it cannot mix."""
        if spec != self.spec:
            self.start_ms = self.end_ms
            self._data.clear()
            self.spec = spec

    def append(self, data: bytes) -> None:
        """Add wire bytes at the end."""
        self._data.extend(data)

    def can_commit(self) -> bool:
        """Whether the buffer holds the 100 ms the real server requires for a commit."""
        return self.duration_ms >= MIN_COMMIT_MS

    def take(self, until_ms: float | None = None) -> bytes:
        """Remove and return the audio up to session time `until_ms` (all when None)."""
        if until_ms is None:
            count = len(self._data)
        else:
            wanted = max(0.0, until_ms - self.start_ms) * self.spec.bytes_per_ms
            count = min(len(self._data), int(wanted) - int(wanted) % self.spec.bytes_per_sample)
        taken = bytes(self._data[:count])
        del self._data[:count]
        self.start_ms += count / self.spec.bytes_per_ms
        return taken

    def clear(self) -> None:
        """Drop all buffered audio (its time still counts on the session timeline)."""
        self.take()
