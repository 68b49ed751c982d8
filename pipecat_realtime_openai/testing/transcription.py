"""Input audio transcription: where transcripts come from and the events they produce."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipecat_realtime_openai.testing.synth import tokenize

DEFAULT_TRANSCRIPT = "Hello."


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


def transcription_events(
    item_id: str, outcome: TranscriptOutcome, audio_ms: float, make_event: Callable[..., dict]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Build the transcription events of one user item.

    Args:
        item_id: The user audio item.
        outcome: Its transcript or a failure.
        audio_ms: Duration of its audio (for the usage block).
        make_event: Builds an event dict from a type and fields (adds the event id).

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
    early = [
        make_event(prefix + "delta", item_id=item_id, content_index=0, delta=token)
        for token in tokenize(outcome)
    ]
    usage = {"type": "duration", "seconds": round(audio_ms / 1000, 2)}
    late = [
        make_event(
            prefix + "completed",
            item_id=item_id,
            content_index=0,
            transcript=outcome,
            usage=usage,
        )
    ]
    return early, late
