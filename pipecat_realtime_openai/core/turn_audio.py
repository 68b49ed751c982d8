"""The audio of each spoken user turn, kept so a restore can recreate turns with no transcript.

A restored conversation is rebuilt with ``conversation.item.create``. A spoken turn whose
transcript is known comes back as text; one without (input transcription is off, or the
connection dropped before the transcript came) can only come back as a user message
with ``input_audio`` content, so the client must still have that audio. This module keeps
the audio written to the server's input buffer for a while, by position, and cuts it
into turns: where server VAD says a turn began and ended (``audio_start_ms`` and
``audio_end_ms``, counted from the first audio of the session), or where the client
committed the buffer (manual turns).

Only what a turn can still need is kept: the audio from the start of each open turn (a
speech start not yet stopped, a manual turn not yet committed), at most ``keep_ms`` of
it, and otherwise a short tail (``idle_keep_ms``) that covers the server's
``prefix_padding_ms`` and the time its ``speech_started`` takes to arrive, because that
event points back to audio already sent. A manual turn opens at the last commit or
clear, or, once the pipeline's turn detection has reported where the user starts
speaking, at that start less the pre-roll: what came before it is not the user's turn.
Between turns a session therefore holds a few seconds of audio, not the minute a long
turn may need.

Pure bookkeeping, no I/O. The hot path (:meth:`InputAudioTimeline.on_sent`) extends a
buffer and compares one length; trimming runs at most once per second of audio.
"""

from __future__ import annotations

from collections import deque

from pipecat_realtime_openai.audio.formats import AudioFormatSpec


class InputAudioTimeline:
    """User audio written to the server's input buffer on one connection, by position.

    Args:
        spec: The session input format of the audio.
        keep_ms: The most audio kept for one open turn (the longest turn restorable);
            0 keeps nothing (positions are still counted).
        idle_keep_ms: Audio kept while no turn is open.
    """

    def __init__(self, spec: AudioFormatSpec, keep_ms: float, idle_keep_ms: float = 5_000) -> None:
        self._spec = spec
        self._keep_ms = keep_ms
        self._keeps = keep_ms > 0
        self._idle_keep_ms = min(idle_keep_ms, keep_ms)
        self._audio = bytearray()
        # Position (ms since the connection's first audio) of the first byte kept.
        self._start_ms = 0.0
        # Start of the oldest open turn: audio from here on may still be sliced.
        self._hold_from_ms: float | None = None
        self._next_trim = self._trim_threshold()

    @property
    def position_ms(self) -> float:
        """Milliseconds of audio written so far on this connection."""
        return self._start_ms + len(self._audio) / self._spec.bytes_per_ms

    def on_sent(self, chunk: bytes) -> None:
        """Record audio just written to the input buffer."""
        if not self._keeps:
            # Nothing is kept, but the position moves on: later turns still line up.
            self._start_ms += len(chunk) / self._spec.bytes_per_ms
            return
        self._audio += chunk
        if len(self._audio) > self._next_trim:
            self._trim()

    def hold_from(self, position_ms: float | None) -> None:
        """Keep the audio from ``position_ms`` on (an open turn), or only the tail (None)."""
        self._hold_from_ms = position_ms
        self._next_trim = min(self._next_trim, self._trim_threshold())

    @property
    def kept_bytes(self) -> int:
        """Bytes of audio kept now."""
        return len(self._audio)

    def _trim_threshold(self) -> int:
        # A second of slack, so trimming runs once per second of audio, not per chunk.
        return self._spec.bytes_from_ms(self._idle_keep_ms) + self._spec.bytes_per_second

    def _trim(self) -> None:
        position = self.position_ms
        keep_from = position - self._idle_keep_ms
        if self._hold_from_ms is not None:
            keep_from = min(keep_from, self._hold_from_ms)
        keep_from = max(keep_from, position - self._keep_ms)
        cut = self._spec.bytes_from_ms(keep_from - self._start_ms)
        cut -= cut % self._spec.bytes_per_sample
        if cut > 0:
            del self._audio[:cut]
            self._start_ms += cut / self._spec.bytes_per_ms
        slack = len(self._audio) + self._spec.bytes_per_second
        self._next_trim = max(self._trim_threshold(), slack)

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
        self._next_trim = self._trim_threshold()

    def reset(self) -> None:
        """A new connection: its positions count from zero again."""
        self._audio.clear()
        self._start_ms = 0.0
        self._hold_from_ms = None
        self._next_trim = self._trim_threshold()


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
        # Manual turns: the audio since the last commit or clear is the next turn.
        self._manual = False
        # Manual turns, once the pipeline reports speech starts: where the user's current
        # speech began, less the pre-roll (None while the user is not speaking).
        self._local_starts = False
        self._speaking_from: float | None = None

    def set_manual(self, manual: bool) -> None:
        """Whether the client commits turns (no server turn detection)."""
        self._manual = manual
        self._hold()

    def _hold(self) -> None:
        """Tell the timeline where the oldest audio a turn may still need begins."""
        starts = list(self._speech_starts.values())
        starts.extend(start for start, _ in self._commits)
        if self._manual:
            start = self._turn_start_ms if not self._local_starts else self._speaking_from
            if start is not None:
                starts.append(start)
        self.timeline.hold_from(min(starts) if starts else None)

    def on_speech_started(self, item_id: str, audio_start_ms: float) -> None:
        """Server VAD: a turn began (``audio_start_ms`` includes the prefix padding)."""
        self._speech_starts[item_id] = audio_start_ms
        self._hold()

    def on_speech_stopped(self, item_id: str, audio_end_ms: float) -> bytes | None:
        """Server VAD: the turn ended and becomes item ``item_id``.

        Returns:
            The turn's audio, or None when it is no longer (or was never) kept.
        """
        start = self._speech_starts.pop(item_id, None)
        self._turn_start_ms = audio_end_ms
        audio = self.timeline.slice(start, audio_end_ms) if start is not None else None
        self._hold()
        return audio

    def on_local_speech_started(self, lead_ms: float) -> None:
        """Manual turns: the pipeline's turn detection says the user started speaking.

        From now on a manual turn is kept from its speech start, not from the last
        commit, and between turns only the tail is kept.

        Args:
            lead_ms: Audio before the start that belongs to the turn (the pre-roll:
                speech began before the detector fired).
        """
        if not self._manual:
            return  # server VAD says where turns start
        self._local_starts = True
        if self._speaking_from is None:
            self._speaking_from = max(self._turn_start_ms, self.timeline.position_ms - lead_ms)
        self._hold()

    def on_commit_sent(self) -> None:
        """Manual turns: the client committed the buffer; its audio becomes the next item."""
        end = self.timeline.position_ms
        start = self._turn_start_ms if self._speaking_from is None else self._speaking_from
        self._commits.append((start, end))
        self._turn_start_ms = end
        self._speaking_from = None
        self._hold()

    def on_clear_sent(self) -> None:
        """The client cleared the buffer: the next turn starts here."""
        self._turn_start_ms = self.timeline.position_ms
        if self._speaking_from is not None:
            # The user is still speaking; the cleared audio is gone from the server.
            self._speaking_from = self._turn_start_ms
        self._hold()

    def on_committed(self, item_id: str) -> bytes | None:
        """``input_audio_buffer.committed``: the audio of a manual commit, if it was one."""
        if not self._commits:
            return None
        start, end = self._commits.popleft()
        audio = self.timeline.slice(start, end)
        self._hold()
        return audio

    def on_commit_refused(self) -> None:
        """The server refused a commit (too little audio): it makes no item."""
        if self._commits:
            self._commits.popleft()
            self._hold()

    def reset(self) -> None:
        """A new connection: nothing is pending and positions restart."""
        self._speech_starts.clear()
        self._commits.clear()
        self._turn_start_ms = 0.0
        if self._speaking_from is not None:
            # The user is still speaking: the turn goes on from the new connection's start.
            self._speaking_from = 0.0
        self.timeline.reset()
        self._hold()
