"""The audio of each spoken user turn, kept so a restore can recreate turns with no transcript.

A restored conversation is rebuilt with ``conversation.item.create``. A spoken turn whose
transcript is known comes back as text; one without (input transcription is off, or the
connection dropped before the transcript came) can only come back as a user message
with ``input_audio`` content, so the client must still have that audio. This module keeps
the audio written to the server's input buffer for a while, by position, and cuts it
into turns: where server VAD says a turn began and ended (``audio_start_ms`` and
``audio_end_ms``, counted from the first audio of the session), or where the client
committed the buffer (manual turns).

Pure bookkeeping, no I/O. The hot path (:meth:`InputAudioTimeline.on_sent`) only extends
a buffer.
"""

from __future__ import annotations

from collections import deque

from pipecat_realtime_openai.audio.formats import AudioFormatSpec


class InputAudioTimeline:
    """User audio written to the server's input buffer on one connection, by position.

    Args:
        spec: The session input format of the audio.
        keep_ms: How much of the most recent audio is kept.
    """

    def __init__(self, spec: AudioFormatSpec, keep_ms: float) -> None:
        self._spec = spec
        self._keep_ms = keep_ms
        self._audio = bytearray()
        # Position (ms since the connection's first audio) of the first byte kept.
        self._start_ms = 0.0

    @property
    def position_ms(self) -> float:
        """Milliseconds of audio written so far on this connection."""
        return self._start_ms + len(self._audio) / self._spec.bytes_per_ms

    def on_sent(self, chunk: bytes) -> None:
        """Record audio just written to the input buffer."""
        self._audio += chunk
        excess = len(self._audio) - self._spec.bytes_from_ms(self._keep_ms)
        if excess > self._spec.bytes_per_second:  # trim in steps, not per chunk
            cut = excess - excess % self._spec.bytes_per_sample
            del self._audio[:cut]
            self._start_ms += cut / self._spec.bytes_per_ms

    def slice(self, start_ms: float, end_ms: float) -> bytes | None:
        """Return the audio between two positions, or None if it is no longer kept."""
        if end_ms <= start_ms or start_ms < self._start_ms - 1e-6:
            return None
        first = self._spec.bytes_from_ms(start_ms - self._start_ms)
        last = min(len(self._audio), self._spec.bytes_from_ms(end_ms - self._start_ms))
        return bytes(self._audio[first:last]) if last > first else None

    def retarget(self, spec: AudioFormatSpec) -> None:
        """The input format changed: audio kept in the old format is dropped."""
        position = self.position_ms
        self._spec = spec
        self._audio.clear()
        self._start_ms = position

    def reset(self) -> None:
        """A new connection: its positions count from zero again."""
        self._audio.clear()
        self._start_ms = 0.0


class TurnAudio:
    """Cuts the input audio timeline into the user turns the server committed.

    Args:
        timeline: The audio written on the current connection.
    """

    def __init__(self, timeline: InputAudioTimeline) -> None:
        self.timeline = timeline
        self._speech_starts: dict[str, float] = {}
        self._turn_start_ms = 0.0
        # Manual commits sent and not yet answered, oldest first: (start, end) ms.
        self._commits: deque[tuple[float, float]] = deque()

    def on_speech_started(self, item_id: str, audio_start_ms: float) -> None:
        """Server VAD: a turn began (``audio_start_ms`` includes the prefix padding)."""
        self._speech_starts[item_id] = audio_start_ms

    def on_speech_stopped(self, item_id: str, audio_end_ms: float) -> bytes | None:
        """Server VAD: the turn ended and becomes item ``item_id``.

        Returns:
            The turn's audio, or None when it is no longer (or was never) kept.
        """
        start = self._speech_starts.pop(item_id, None)
        self._turn_start_ms = audio_end_ms
        return self.timeline.slice(start, audio_end_ms) if start is not None else None

    def on_commit_sent(self) -> None:
        """Manual turns: the client committed the buffer; its audio becomes the next item."""
        end = self.timeline.position_ms
        self._commits.append((self._turn_start_ms, end))
        self._turn_start_ms = end

    def on_clear_sent(self) -> None:
        """The client cleared the buffer: the next turn starts here."""
        self._turn_start_ms = self.timeline.position_ms

    def on_committed(self, item_id: str) -> bytes | None:
        """``input_audio_buffer.committed``: the audio of a manual commit, if it was one."""
        if not self._commits:
            return None
        start, end = self._commits.popleft()
        return self.timeline.slice(start, end)

    def on_commit_refused(self) -> None:
        """The server refused a commit (too little audio): it makes no item."""
        if self._commits:
            self._commits.popleft()

    def reset(self) -> None:
        """A new connection: nothing is pending and positions restart."""
        self._speech_starts.clear()
        self._commits.clear()
        self._turn_start_ms = 0.0
        self.timeline.reset()
