"""Inputs from the user's side: audio, turns, interruptions, playback, images.

Two turn modes. With server VAD the server reports speech and answers by itself;
an interruption only truncates what the user did not hear. In manual mode
(``turn_detection`` off) local turn detection drives the session: the user stopping
commits the input buffer and asks for one response; an interruption clears the
buffer (replaying the speech onset) and cancels the response.

:meth:`UserInputs.user_audio` is the input hot path: it returns the texts to send
(usually none: a batch fills every few frames) and builds no action list.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipecat_realtime_openai.core.actions import (
    Action,
    Metrics,
    MetricsOp,
    Send,
    SendInputAudio,
)
from pipecat_realtime_openai.core.connection_steps import ConnectionSteps
from pipecat_realtime_openai.core.items import image_item
from pipecat_realtime_openai.protocol.client_events import ResponseCancelEvent


class UserInputs(ConnectionSteps):
    """Applies what the user does to the session."""

    # -- audio ---------------------------------------------------------------------------

    def user_audio(self, pcm: bytes, sample_rate: int, num_channels: int) -> Sequence[str]:
        """One frame of user audio (the hot path).

        Args:
            pcm: 16-bit PCM, interleaved when stereo.
            sample_rate: Its rate.
            num_channels: Its channel count.

        Returns:
            The JSON texts to send now, in order; send them before taking more.
            (``input_audio.push`` is the same with one call fewer per frame.) None
            on a sideband connection: the call carries the caller's audio.
        """
        if self._sideband:
            return ()
        return self._input.push(pcm, sample_rate, num_channels)

    def take_input_audio(self) -> Sequence[str]:
        """The input audio ready to send (what a ``SendInputAudio`` asks to send)."""
        return self._input.take()

    def input_paused(self) -> Sequence[str]:
        """User audio paused for a moment: send what conversion and batching hold back.

        Returns:
            The JSON texts to send now.
        """
        self._input.flush()
        return self._input.take()

    def set_vad_start_secs(self, start_secs: float) -> None:
        """The local VAD's ``start_secs``: sizes the manual-mode pre-roll."""
        self._input.set_vad_start_secs(start_secs)

    # -- turns -----------------------------------------------------------------------------

    def user_started_speaking(self, now: float | None = None) -> list[Action]:
        """Local turn detection: the user started talking.

        Args:
            now: Clock reading; in manual mode it starts the turn's timeline.
        """
        self._local_speech = True
        out: list[Action] = []
        if self.manual_turns:
            self._input.user_started_speaking()
            if now is not None:
                self._turns_ended(self._timeline.user_started(now), out)
        return out

    def user_stopped_speaking(self, now: float | None = None) -> list[Action]:
        """Local turn detection: the user stopped; in manual mode, commit and ask once.

        Args:
            now: Clock reading (the turn's timeline, in manual mode).
        """
        self._local_speech = False
        out: list[Action] = []
        if not self.manual_turns:
            return out
        if now is not None:
            self._turns_ended(self._timeline.user_stopped(now), out)
        # The audio held back by the batcher belongs to this turn: it goes first.
        self._input.commit()
        out.append(SendInputAudio())
        self._responses.pending_input = True
        out.append(Metrics(MetricsOp.START))
        self._request_response(out, start_metrics=False)
        return out

    def interruption(self, now: float) -> list[Action]:
        """The pipeline interrupts the bot (an ``InterruptionFrame``).

        Args:
            now: Clock reading (how much of the reply was heard).
        """
        out: list[Action] = []
        if self._sideband:
            # The server interrupted its reply itself, at its speech_started (applied
            # in order); the pipeline's interruption can come back after the server
            # began the next reply, which it must not end.
            out.append(Metrics(MetricsOp.STOP_ALL))
            return out
        if self.manual_turns:
            self._input.clear_and_replay_preroll()
            out.append(SendInputAudio())
            if self._responses.busy:
                # Named when known: out-of-band responses may be running too.
                active = self._responses.lifecycle.active
                cancel = (
                    ResponseCancelEvent(response_id=active) if active else ResponseCancelEvent()
                )
                out.append(Send(cancel))
        # With server VAD the server's speech_started timed the barge-in already.
        self._barge_in(now, out, timed=self.manual_turns)
        out.append(Metrics(MetricsOp.STOP_ALL))
        return out

    # -- playback ----------------------------------------------------------------------------

    def bot_started_speaking(self, now: float) -> None:
        """The transport started playing assistant audio."""
        self._playback.on_playback_started(now)

    def bot_stopped_speaking(self, now: float) -> list[Action]:
        """The transport played out everything it had (a played-out turn ends)."""
        self._playback.on_playback_stopped(now)
        out: list[Action] = []
        self._turns_ended(self._timeline.playback_stopped(now), out)
        return out

    # -- video -------------------------------------------------------------------------------

    def video_frame_due(self, now: float) -> bool:
        """Whether a video frame arriving now is to be sent (rate limit, pause, session).

        Args:
            now: Clock reading.
        """
        if self.video_input_paused or not self._phase.phase.configured:
            return False
        return self._video.accept(now)

    def user_image(self, data_uri: str) -> list[Action]:
        """An image from the user (a video frame accepted by :meth:`video_frame_due`).

        Args:
            data_uri: The image as a ``data:image/jpeg;base64,...`` URI.
        """
        out: list[Action] = []
        self._add_item(image_item(data_uri, self.video_detail), out)
        return out
