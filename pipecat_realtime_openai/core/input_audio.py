r"""User audio -> the JSON texts to send: conversion, batching, holding, pre-roll, commits.

:class:`InputAudio` decides what goes out and when; it sends nothing. What is ready to
go waits in one ordered outbox of JSON texts (appends, commits, clears) that the host
takes and sends under one lock, so the server gets the audio in the order it was
decided, whichever task took it.

While the session is not configured (connecting, configuring, recycling) audio is
*held*, in order and with the commits between it, up to ``max_pending_secs`` (oldest
dropped, with one warning); :meth:`release` puts it in the outbox once the session is
ready. A pause in the input (the host's timer) :meth:`flush`\ es what resampling and
batching hold back, so no audio is lost at the end of an utterance.

The hot path, :meth:`push`, builds no model: appends are encoded with
:func:`~pipecat_realtime_openai.protocol.fast.encode_append`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from loguru import logger

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.audio.pipeline import InputAudioConverter
from pipecat_realtime_openai.core.turn_audio import TurnAudio
from pipecat_realtime_openai.protocol.client_events import (
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
)
from pipecat_realtime_openai.protocol.fast import encode_append

DEFAULT_PREROLL_SECS = 0.5
"""Manual-mode pre-roll when no VAD reported its ``start_secs``."""

PREROLL_MARGIN_SECS = 0.3
"""Added to the VAD's ``start_secs`` when sizing the pre-roll from it."""

_NOTHING: tuple[str, ...] = ()
_COMMIT = InputAudioBufferCommitEvent().to_json()
_CLEAR = InputAudioBufferClearEvent().to_json()


class InputAudio:
    """Converts, batches, holds and queues user audio for sending.

    Args:
        target: Initial session input format.
        turn_audio: Told what audio, commits and clears go out, so spoken turns can be
            restored as audio after a reconnect.
        batch_ms: Audio duration per ``input_audio_buffer.append``.
        max_pending_secs: Audio held while the session is not ready (oldest dropped).
        preroll_secs: Fixed manual-mode pre-roll, or None to size it from the VAD.
    """

    def __init__(
        self,
        target: AudioFormatSpec,
        turn_audio: TurnAudio,
        *,
        batch_ms: int,
        max_pending_secs: float,
        preroll_secs: float | None,
    ) -> None:
        self._turn_audio = turn_audio
        self._converter = InputAudioConverter(target, batch_ms)
        self._max_pending_secs = max_pending_secs
        self._live = False
        # Audio chunks, and commits (JSON text) held in order behind them.
        self._held: deque[bytes | str] = deque()
        self._held_bytes = 0
        # Held audio dropped beyond the limit since the last release (one warning each).
        self._dropped_bytes = 0
        self._outbox: list[str] = []
        self._preroll_fixed = preroll_secs
        self._preroll_secs = preroll_secs if preroll_secs is not None else DEFAULT_PREROLL_SECS
        self._preroll = bytearray()
        self._keep_preroll = False
        self.sent_bytes = 0
        """Wire bytes of audio handed out so far (for tests and diagnostics)."""
        self.paused = False
        """User audio is dropped while True (the application paused input)."""

    @property
    def target(self) -> AudioFormatSpec:
        """The session input format audio is converted to."""
        return self._converter.target

    @property
    def live(self) -> bool:
        """Whether audio goes out as it comes (False while it is held)."""
        return self._live

    @property
    def held_ms(self) -> float:
        """Milliseconds of audio held until the session is ready."""
        return self.target.ms_from_bytes(self._held_bytes)

    # -- the hot path ---------------------------------------------------------------

    def push(self, pcm: bytes, sample_rate: int, num_channels: int) -> Sequence[str]:
        """Convert one input frame; return what is ready to send (often nothing).

        Args:
            pcm: 16-bit PCM, interleaved when stereo.
            sample_rate: The frame's rate.
            num_channels: The frame's channel count.

        Returns:
            The JSON texts to send now, in order (the outbox, emptied).
        """
        if self.paused:
            return _NOTHING
        for chunk in self._converter.convert(pcm, sample_rate, num_channels):
            self._emit(chunk)
        # take(), inline: this runs 50 times a second per call.
        out = self._outbox
        if not out:
            return _NOTHING
        self._outbox = []
        return out

    def take(self) -> Sequence[str]:
        """Empty the outbox: the texts to send now, in order."""
        out = self._outbox
        if not out:
            return _NOTHING
        self._outbox = []
        return out

    # -- turns --------------------------------------------------------------------------

    def flush(self) -> None:
        """Queue everything the resampler and batcher hold back (input paused)."""
        for chunk in self._converter.flush():
            self._emit(chunk)

    def commit(self) -> None:
        """Queue the held-back audio, then a commit of the input buffer (manual turns).

        While audio is held the commit waits in line behind it.
        """
        self.flush()
        if self._live:
            self._queue_commit(_COMMIT)
        else:
            self._held.append(_COMMIT)

    def clear_and_replay_preroll(self) -> None:
        """Queue a clear of the server input buffer, then the recent pre-roll again.

        The clear wipes the speech onset that was appended before local turn detection
        fired; replaying the pre-roll keeps it. Nothing happens while audio is held.
        """
        if not self._live:
            return
        self._outbox.append(_CLEAR)
        self._turn_audio.on_clear_sent()
        if self._preroll:
            preroll = bytes(self._preroll)
            self._outbox.append(encode_append(preroll))
            self._turn_audio.timeline.on_sent(preroll)

    def user_started_speaking(self) -> None:
        """Manual turns: the pipeline's turn detection heard the user start.

        The turn's audio is kept from here, less the pre-roll (see
        :meth:`TurnAudio.on_local_speech_started`).
        """
        self._turn_audio.on_local_speech_started(self._preroll_secs * 1000)

    def set_manual_turns(self, manual: bool) -> None:
        """Keep a pre-roll of recent audio (manual turn mode only)."""
        self._keep_preroll = manual
        self._turn_audio.set_manual(manual)
        if not manual:
            self._preroll.clear()

    def set_vad_start_secs(self, start_secs: float) -> None:
        """Size the pre-roll from the upstream VAD unless it was fixed by the user."""
        if self._preroll_fixed is None:
            self._preroll_secs = start_secs + PREROLL_MARGIN_SECS

    # -- the session ------------------------------------------------------------------

    def retarget(self, target: AudioFormatSpec) -> None:
        """Switch the input format; audio converted for the old one goes first."""
        if target == self._converter.target:
            return
        for chunk in self._converter.retarget(target):
            self._emit(chunk)
        # Pre-roll in the old format cannot be replayed into the new one.
        self._preroll.clear()
        self._turn_audio.timeline.retarget(target)

    def release(self) -> None:
        """The session is ready: queue the held audio in order; from now on audio is live."""
        self._warn_about_dropped_audio()
        while self._held:
            entry = self._held.popleft()
            if isinstance(entry, str):
                self._queue_commit(entry)
            else:
                self._held_bytes -= len(entry)
                self._queue_chunk(entry)
        self._live = True

    def hold(self) -> None:
        """Hold audio from now on (the session is not ready)."""
        self._live = False

    def reset(self, *, keep_held: bool = False) -> None:
        """A connection ended: hold audio until the next one is ready.

        Args:
            keep_held: Keep what is held (and hold what comes) for the next connection,
                as after a drop; False discards it.
        """
        self._live = False
        self._preroll.clear()
        self._outbox.clear()
        if not keep_held:
            self._warn_about_dropped_audio()
            self._held.clear()
            self._held_bytes = 0

    # -- internals ------------------------------------------------------------------------

    def _emit(self, chunk: bytes) -> None:
        if self._live:
            self._queue_chunk(chunk)
            return
        self._held.append(chunk)
        self._held_bytes += len(chunk)
        limit = self.target.bytes_from_ms(self._max_pending_secs * 1000)
        while self._held_bytes > limit and len(self._held) > 1:
            dropped = self._held.popleft()
            if isinstance(dropped, str):
                continue  # a commit of audio that is being dropped commits nothing
            self._held_bytes -= len(dropped)
            self._dropped_bytes += len(dropped)

    def _queue_commit(self, text: str) -> None:
        self._outbox.append(text)
        self._turn_audio.on_commit_sent()

    def _queue_chunk(self, chunk: bytes) -> None:
        self._outbox.append(encode_append(chunk))
        self.sent_bytes += len(chunk)
        self._turn_audio.timeline.on_sent(chunk)
        if self._keep_preroll:
            self._preroll.extend(chunk)
            keep = self.target.bytes_from_ms(self._preroll_secs * 1000)
            if len(self._preroll) > keep:
                del self._preroll[: len(self._preroll) - keep]

    def _warn_about_dropped_audio(self) -> None:
        if not self._dropped_bytes:
            return
        dropped_ms = self.target.ms_from_bytes(self._dropped_bytes)
        self._dropped_bytes = 0
        logger.warning(
            f"Input audio held while the session was not ready exceeded "
            f"{self._max_pending_secs:g} s: dropped the oldest {dropped_ms / 1000:.2f} s"
        )
