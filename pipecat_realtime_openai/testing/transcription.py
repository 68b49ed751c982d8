"""Input audio transcription: where transcripts come from and the events they produce."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipecat_realtime_openai.testing.synth import tokenize

DEFAULT_TRANSCRIPT = "Hello."

TOKEN_LOGPROB = -0.1
"""Log probability of every transcript token when logprobs are included."""


@dataclass(frozen=True)
class TranscriptionFailure:
    """Makes the next transcription fail with a `...input_audio_transcription.failed`.

    Attributes:
        message: The error message to report.
        code: The error code to report.
    """

    message: str = "Input transcription failed."
    code: str | None = "transcription_failed"


TranscriptOutcome = str | TranscriptionFailure
Transcriber = Callable[[bytes], TranscriptOutcome]


class TranscriptQueue:
    """Transcripts a test supplies for the next committed user audio turns, in order.

    When the queue is empty the `transcriber` callback (given the committed audio
    bytes) decides, and without one the transcript is `DEFAULT_TRANSCRIPT`.
    """

    def __init__(self) -> None:
        """Create an empty queue."""
        self._queue: deque[TranscriptOutcome] = deque()
        self.transcriber: Transcriber | None = None

    def put(self, *transcripts: str) -> None:
        """Queue transcripts for the next user turns."""
        self._queue.extend(transcripts)

    def fail(self, message: str = "Input transcription failed.") -> None:
        """Make the next transcription fail."""
        self._queue.append(TranscriptionFailure(message))

    def __len__(self) -> int:
        return len(self._queue)

    def next_outcome(self, audio: bytes) -> TranscriptOutcome:
        """Decide the transcript (or failure) of one committed user turn."""
        if self._queue:
            return self._queue.popleft()
        if self.transcriber is not None:
            return self.transcriber(audio)
        return DEFAULT_TRANSCRIPT


_SPEAKER_LABEL = re.compile(r"(?:^|\s)([A-Z]):\s+")


def speaker_segments(transcript: str) -> list[tuple[str, str]]:
    """Split a queued transcript into ``(speaker, text)`` segments for diarization.

    A test marks who speaks with labels: ``"A: Hello. B: Hi there."`` is two segments.
    Unlabelled text is one segment of speaker ``A``.
    """
    parts = _SPEAKER_LABEL.split(transcript)
    if len(parts) == 1:
        return [("A", transcript.strip())] if transcript.strip() else []
    # split() gives [before, label, text, label, text, ...].
    return [(label, text.strip()) for label, text in zip(parts[1::2], parts[2::2], strict=True)]


def transcription_events(
    item_id: str,
    outcome: TranscriptOutcome,
    audio_ms: float,
    make_event: Callable[..., dict],
    diarize: bool = False,
    logprobs: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Build the transcription events of one user item.

    Args:
        item_id: The user audio item.
        outcome: Its transcript or a failure.
        audio_ms: Duration of its audio (for the usage block).
        make_event: Builds an event dict from a type and fields (adds the event id).
        diarize: A diarizing transcription model: ``segment`` events (speaker, start,
            end, text) come instead of deltas, and the final transcript is the
            segments' text without the labels.
        logprobs: The session includes transcription logprobs: the final carries one
            per token, :data:`TOKEN_LOGPROB` each.

    Returns:
        ``(early, late)``: deltas, which may arrive before the reply starts, and the
        final ``completed`` (or ``failed``), which the real server often sends in the
        middle of the reply.
    """
    prefix = "conversation.item.input_audio_transcription."
    if isinstance(outcome, TranscriptionFailure):
        error = {
            "type": "transcription_error",
            "code": outcome.code,
            "message": outcome.message,
            "param": None,
        }
        return [], [make_event(prefix + "failed", item_id=item_id, content_index=0, error=error)]
    if diarize:
        segments = speaker_segments(outcome)
        total = sum(len(text) for _, text in segments) or 1
        early, start = [], 0.0
        for n, (speaker, text) in enumerate(segments):
            # Time shared out by text length: enough for tests to see order and spans.
            end = round(start + audio_ms / 1000 * len(text) / total, 3)
            early.append(
                make_event(
                    prefix + "segment",
                    item_id=item_id,
                    content_index=0,
                    id=f"seg_{n + 1}",
                    speaker=speaker,
                    start=start,
                    end=end,
                    text=text,
                )
            )
            start = end
        outcome = " ".join(text for _, text in segments)
    else:
        early = [
            make_event(prefix + "delta", item_id=item_id, content_index=0, delta=token)
            for token in tokenize(outcome)
        ]
    usage = {"type": "duration", "seconds": round(audio_ms / 1000, 2)}
    extra: dict[str, Any] = {}
    if logprobs:
        extra["logprobs"] = [
            {"token": token, "logprob": TOKEN_LOGPROB, "bytes": list(token.encode())}
            for token in tokenize(outcome)
        ]
    late = [
        make_event(
            prefix + "completed",
            item_id=item_id,
            content_index=0,
            transcript=outcome,
            usage=usage,
            **extra,
        )
    ]
    return early, late
