"""A turn's timeline as Pipecat metrics: :class:`TurnTimelineMetricsData`.

Pipecat's metrics types each carry one figure (TTFB, processing time, usage); a turn
has several that only mean something together, so they travel in one metrics item
per turn, next to the TTFB and usage items the service already reports.
"""

from __future__ import annotations

from pipecat.metrics.metrics import MetricsData
from pydantic import BaseModel

from pipecat_realtime_openai.core.turn_timeline import TurnTimeline


class ToolCallMetrics(BaseModel):
    """One tool call of a turn.

    Parameters:
        name: The function's name.
        call_id: The server's call id.
        seconds: How long it ran, or None when no result came back in the turn.
    """

    name: str
    call_id: str
    seconds: float | None = None


class TurnTimelineMetricsData(MetricsData):
    """The latencies of one turn, in seconds (None when the turn had no such span).

    Parameters:
        turn: The turn's number in the session, from 1.
        spoken: The user spoke (False for a typed turn).
        voice_to_voice: User stopped speaking -> first reply audio pushed.
        stop_to_commit: User stopped speaking -> the server committed the turn.
        commit_to_first_audio: Commit -> first reply audio.
        created_to_first_audio: First response created -> first reply audio (the
            figure of a typed turn).
        first_audio_to_done: First reply audio -> last ``response.done``.
        interrupted: The user talked over the reply.
        heard_ms: Milliseconds of the reply heard before the interruption.
        cancelled: The reply was cancelled (or cut off by a lost connection).
        tool_calls: The turn's tool calls and their durations.
    """

    turn: int
    spoken: bool
    voice_to_voice: float | None = None
    stop_to_commit: float | None = None
    commit_to_first_audio: float | None = None
    created_to_first_audio: float | None = None
    first_audio_to_done: float | None = None
    interrupted: bool = False
    heard_ms: int | None = None
    cancelled: bool = False
    tool_calls: list[ToolCallMetrics] = []

    @classmethod
    def from_timeline(
        cls, timeline: TurnTimeline, *, processor: str, model: str | None = None
    ) -> TurnTimelineMetricsData:
        """The metrics of a finished turn.

        Args:
            timeline: The turn.
            processor: Name of the service reporting it.
            model: The model of the session.
        """
        interruption = timeline.interruption
        return cls(
            processor=processor,
            model=model,
            turn=timeline.index,
            spoken=timeline.spoken,
            voice_to_voice=timeline.voice_to_voice,
            stop_to_commit=timeline.stop_to_commit,
            commit_to_first_audio=timeline.commit_to_first_audio,
            created_to_first_audio=timeline.created_to_first_audio,
            first_audio_to_done=timeline.first_audio_to_done,
            interrupted=interruption is not None,
            heard_ms=interruption.heard_ms if interruption is not None else None,
            cancelled=timeline.cancelled,
            tool_calls=[
                ToolCallMetrics(name=c.name, call_id=c.call_id, seconds=c.duration)
                for c in timeline.tool_calls
            ],
        )
