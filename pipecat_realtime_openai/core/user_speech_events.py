"""Server events about the user's speech: server VAD, commits and transcription.

Server turn detection starts and stops the user's turn (a barge-in when the server
interrupts replies), a commit makes the turn an item (and owes it an answer when the
server answers turns by itself), and input transcription arrives as deltas (OpenAI),
cumulative updates (xAI), diarized segments, and one final transcript with its
confidence. Mixed into :class:`~pipecat_realtime_openai.core.server_events.ServerEventInputs`,
whose handler table routes these events here.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from pipecat_realtime_openai.core.actions import (
    Action,
    Metrics,
    MetricsOp,
    Notify,
    SpeakerSegment,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)
from pipecat_realtime_openai.core.connection_steps import ConnectionSteps
from pipecat_realtime_openai.core.session_config import (
    server_answers_turns,
    server_interrupts_replies,
    transcription_language,
)
from pipecat_realtime_openai.core.transcript_confidence import transcript_confidence
from pipecat_realtime_openai.protocol import server_events as ev


class UserSpeechInputs(ConnectionSteps):
    """The handlers of the user's speech and transcription events."""

    def _on_speech_started(
        self, event: ev.InputAudioBufferSpeechStarted, now: float, out: list[Action]
    ) -> None:
        # Only sent with server turn detection; in manual mode local turn detection
        # does this itself.
        self._server_speech = True
        self._turn_audio.on_speech_started(event.item_id, event.audio_start_ms)
        if server_interrupts_replies(self._effective()):
            self._barge_in(now, out)
        self._turns_ended(self._timeline.user_started(now), out)
        # else (interrupt_response off) the server keeps the reply going, so it plays on;
        # the turn is answered after it.
        out.append(UserSpeechStarted())

    def _on_speech_stopped(
        self, event: ev.InputAudioBufferSpeechStopped, now: float, out: list[Action]
    ) -> None:
        self._server_speech = False
        self._turns_ended(self._timeline.user_stopped(now), out)
        audio = self._turn_audio.on_speech_stopped(event.item_id, event.audio_end_ms)
        self._keep_turn_audio(event.item_id, audio)
        out.append(Metrics(MetricsOp.START))
        out.append(UserSpeechStopped())

    def _on_committed(
        self, event: ev.InputAudioBufferCommitted, now: float, out: list[Action]
    ) -> None:
        self._keep_turn_audio(event.item_id, self._turn_audio.on_committed(event.item_id))
        self._timeline.committed(event.item_id, now)
        # A turn the server answers by itself: owed an answer until its response starts.
        self._responses.server_turn_pending = server_answers_turns(self._effective())

    def _on_transcription_delta(
        self, event: ev.ConversationItemInputAudioTranscriptionDelta, now: float, out: list[Action]
    ) -> None:
        if event.delta:
            language = transcription_language(self._effective())
            out.append(UserTranscript(event.delta, False, language, event))

    def _on_transcription_update(self, event: Any, now: float, out: list[Action]) -> None:
        # xAI: each update carries the whole transcript so far, not a delta.
        transcript = getattr(event, "transcript", None)
        if isinstance(transcript, str):
            self._interim_transcript(event.item_id, transcript, event, out)

    def _on_transcription_segment(
        self,
        event: ev.ConversationItemInputAudioTranscriptionSegment,
        now: float,
        out: list[Action],
    ) -> None:
        text = event.text.strip()
        if not text:
            return
        segment = SpeakerSegment(event.speaker or "", text, event.start, event.end)
        self._speaker_segments.setdefault(event.item_id, []).append(segment)
        language = transcription_language(self._effective())
        out.append(UserTranscript(text, False, language, event, (segment,)))

    def _interim_transcript(
        self, item_id: str, transcript: str, event: Any, out: list[Action]
    ) -> None:
        text = transcript.strip()
        if not text or self._interim_transcripts.get(item_id) == text:
            return
        self._interim_transcripts[item_id] = text
        language = transcription_language(self._effective())
        out.append(UserTranscript(text, False, language, event))

    def _on_transcription_done(
        self,
        event: ev.ConversationItemInputAudioTranscriptionCompleted,
        now: float,
        out: list[Action],
    ) -> None:
        if getattr(event, "status", None) == "in_progress":
            # xAI sends "completed" for each settled stretch of a turn still being
            # spoken; only the one without in_progress ends the turn's transcript.
            self._interim_transcript(event.item_id, event.transcript, event, out)
            return
        self._interim_transcripts.pop(event.item_id, None)
        segments = tuple(self._speaker_segments.pop(event.item_id, ()))
        out.append(Notify("on_conversation_item_updated", (event.item_id, None)))
        self._conversation.sync.remember_spoken(event.transcript, (event.item_id,))
        self._conversation.mirror.on_input_transcript(
            event.item_id, event.content_index, event.transcript
        )
        language = transcription_language(self._effective())
        confidence = transcript_confidence(event.logprobs)
        out.append(UserTranscript(event.transcript, True, language, event, segments, confidence))

    def _on_transcription_failed(
        self, event: ev.ConversationItemInputAudioTranscriptionFailed, now: float, out: list[Action]
    ) -> None:
        self._speaker_segments.pop(event.item_id, None)
        hint = ""
        if event.error.code == "DeploymentNotFound":
            # Azure: the transcription model must name a deployment of the resource.
            hint = (
                " (on Azure, audio.input.transcription.model names a transcription"
                " deployment of your resource)"
            )
        logger.warning(
            f"{self._name}: input transcription failed for item {event.item_id}: "
            f"{event.error.message}{hint}"
        )
