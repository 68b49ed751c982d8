"""The demo's turn timelines: latencies as text, and a picture of the conversation.

`describe_turn` writes one turn's latencies on a line; `render_timeline` draws every
turn on one time axis with Pillow: a row for the user (speech, or a typed message), one
for the bot (its reply audio) and one for tools, markers where the user cut the bot
off, and each turn's latency written over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pipecat_realtime_openai.core.turn_timeline import TurnTimeline

WIDTH = 1200
HEIGHT = 350
BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)
GRID = (225, 225, 225)
USER = (66, 133, 244)
TYPED = (160, 190, 240)
BOT = (52, 168, 83)
TOOL = (251, 140, 0)
INTERRUPTION = (219, 68, 55)
LATENCY = (120, 60, 170)

_LEFT = 90
_RIGHT = 30
_TOP = 62
_ROW = 70
_BAR = 26
_ROWS = ("user", "bot", "tools")
# The narrowest bar drawn, so an instant (a typed message, fast-paced audio) shows.
_MIN_BAR_PX = 4


@dataclass(frozen=True)
class TurnPicture:
    """One turn to draw.

    Attributes:
        timeline: The turn.
        audio_seconds: Seconds of reply audio the bot produced in it.
    """

    timeline: TurnTimeline
    audio_seconds: float = 0.0


def _clamped(turns: Sequence[TurnPicture]) -> list[tuple[TurnPicture, float | None]]:
    """Each turn with where its audio bar ends: at most where the next turn begins.

    Audio faster than real time (the simulator's fast pace) would otherwise run on
    under the turns after it.
    """
    ends: list[tuple[TurnPicture, float | None]] = []
    for i, turn in enumerate(turns):
        end = _audio_end(turn)
        if end is not None and i + 1 < len(turns):
            following = turns[i + 1].timeline.events()
            if following:
                end = max(min(end, following[0][1]), turn.timeline.reply_done or end)
        ends.append((turn, end))
    return ends


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def headline(timeline: TurnTimeline) -> str:
    """The one figure of a turn: voice-to-voice when spoken, else request to first audio."""
    if timeline.voice_to_voice is not None:
        return f"voice-to-voice {_ms(timeline.voice_to_voice)}"
    if timeline.created_to_first_audio is not None:
        return f"first audio {_ms(timeline.created_to_first_audio)}"
    return "no audio"


def describe_turn(timeline: TurnTimeline) -> str:
    """One turn's latencies, on one line."""
    kind = "spoken" if timeline.spoken else "typed"
    parts = [headline(timeline)]
    if timeline.spoken:
        parts.append(f"stop->commit {_ms(timeline.stop_to_commit)}")
        parts.append(f"commit->first audio {_ms(timeline.commit_to_first_audio)}")
    parts.append(f"first audio->done {_ms(timeline.first_audio_to_done)}")
    for call in timeline.tool_calls:
        parts.append(f"tool {call.name} {_ms(call.duration)}")
    if timeline.interruption is not None:
        parts.append(f"interrupted after {timeline.interruption.heard_ms} ms heard")
    return f"turn {timeline.index} ({kind}): " + ", ".join(parts)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def _span(turns: Sequence[TurnPicture]) -> tuple[float, float]:
    times = [t for turn in turns for _, t in turn.timeline.events()]
    ends = [end for _, end in _clamped(turns)]
    times += [end for end in ends if end is not None]
    if not times:
        return 0.0, 1.0
    start, end = min(times), max(times)
    end = max(end, start + 0.001)
    # A little room after the last moment, so the last bar does not touch the edge.
    return start, end + (end - start) * 0.03


def _audio_end(turn: TurnPicture) -> float | None:
    timeline = turn.timeline
    start = timeline.first_audio
    if start is None:
        return None
    end = start + turn.audio_seconds
    if timeline.reply_done is not None:
        # Audio is received faster than it plays: the bar ends where either does.
        end = max(end, timeline.reply_done)
    if timeline.interruption is not None:
        end = min(end, timeline.interruption.at)
    return end


def _tick_step(seconds: float) -> float:
    for step in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0):
        if seconds / step <= 12:
            return step
    return 120.0


def render_timeline(turns: Sequence[TurnPicture], path: Path) -> Image.Image:
    """Draw the turns on one time axis and save the picture as PNG.

    Args:
        turns: The turns, in order.
        path: Where the PNG goes.

    Returns:
        The picture.
    """
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, normal, title = _font(12), _font(14), _font(17)
    start, end = _span(turns)
    scale = (WIDTH - _LEFT - _RIGHT) / (end - start)

    def x(t: float) -> float:
        return _LEFT + (t - start) * scale

    def bar(t0: float, t1: float, row: int, color: tuple[int, int, int]) -> None:
        top = _TOP + row * _ROW + (_ROW - _BAR) / 2
        # Two pixels short, so back-to-back bars (one turn right after another) stay apart.
        right = max(x(t1) - 2, x(t0) + _MIN_BAR_PX)
        draw.rectangle((x(t0), top, right, top + _BAR), fill=color)

    draw.text(
        (_LEFT, 10),
        "Turn timeline: who spoke when, and the latency of each turn",
        fill=INK,
        font=title,
    )
    draw.text(
        (_LEFT, 34),
        "seconds since the first moment; user speech as the server's VAD reported it",
        fill=INK,
        font=small,
    )
    axis_y = _TOP + len(_ROWS) * _ROW
    step = _tick_step(end - start)
    tick = 0.0
    while tick <= end - start + 1e-9:
        px = x(start + tick)
        draw.line((px, _TOP, px, axis_y), fill=GRID)
        draw.line((px, axis_y, px, axis_y + 5), fill=INK)
        label = f"{tick:.1f} s" if step < 1 else f"{tick:.0f} s"
        width = draw.textlength(label, font=small)
        draw.text((px - width / 2, axis_y + 8), label, fill=INK, font=small)
        tick += step
    draw.line((_LEFT, axis_y, WIDTH - _RIGHT, axis_y), fill=INK)
    for row, name in enumerate(_ROWS):
        center = _TOP + row * _ROW + _ROW / 2
        draw.text((12, center - 8), name, fill=INK, font=normal)

    labels = _Labels()
    for turn, audio_end in _clamped(turns):
        timeline = turn.timeline
        if timeline.spoken:
            speech_start = timeline.user_speech_started or timeline.user_speech_stopped
            speech_end = timeline.user_speech_stopped or speech_start
            assert speech_start is not None and speech_end is not None
            bar(speech_start, speech_end, 0, USER)
        elif timeline.response_created is not None:
            bar(timeline.response_created, timeline.response_created, 0, TYPED)
        audio_start = timeline.first_audio
        if audio_start is not None and audio_end is not None:
            bar(audio_start, audio_end, 1, BOT)
        for call in timeline.tool_calls:
            bar(call.started, call.ended if call.ended is not None else call.started, 2, TOOL)
            label_x = x(call.started)
            draw.text((label_x, _TOP + 2 * _ROW + 6), call.name, fill=INK, font=small)
        if timeline.interruption is not None:
            px = x(timeline.interruption.at)
            draw.line((px, _TOP + 4, px, _TOP + 2 * _ROW - 4), fill=INTERRUPTION, width=3)
            draw.polygon(
                ((px - 7, _TOP + 4), (px + 7, _TOP + 4), (px, _TOP + 16)), fill=INTERRUPTION
            )
            heard = f"cut off: {timeline.interruption.heard_ms} ms heard"
            draw.text((px + 6, _TOP + 2 * _ROW - 18), heard, fill=INTERRUPTION, font=small)
        _latency(draw, timeline, x, small, labels)

    _legend(draw, axis_y + 34, normal)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return image


class _Labels:
    """Lines of latency labels: a label goes on the first line where it overlaps none."""

    LINES = 3

    def __init__(self) -> None:
        self._ends = [float("-inf")] * self.LINES

    def line_for(self, left: float, right: float) -> int:
        for line, end in enumerate(self._ends):
            if left >= end + 8:
                self._ends[line] = right
                return line
        # Crowded: the line whose last label ends first.
        line = min(range(self.LINES), key=self._ends.__getitem__)
        self._ends[line] = right
        return line


def _latency(draw: ImageDraw.ImageDraw, timeline: TurnTimeline, x, font, labels: _Labels) -> None:
    """The turn's latency as a bracket between the user's turn and the first audio."""
    first_audio = timeline.first_audio
    begin = timeline.user_speech_stopped if timeline.spoken else timeline.response_created
    if first_audio is None or begin is None:
        return
    y = _TOP + _ROW + 8
    x0, x1 = x(begin), x(first_audio)
    draw.line((x0, y, max(x1, x0 + 1), y), fill=LATENCY, width=2)
    draw.line((x0, y - 4, x0, y + 4), fill=LATENCY, width=2)
    draw.line((x1, y - 4, x1, y + 4), fill=LATENCY, width=2)
    text = f"turn {timeline.index}: {headline(timeline)}"
    line = labels.line_for(x0, x0 + draw.textlength(text, font=font))
    draw.text((x0, y - 20 - 15 * line), text, fill=LATENCY, font=font)


def _legend(draw: ImageDraw.ImageDraw, y: float, font) -> None:
    entries = (
        (USER, "user speech"),
        (TYPED, "typed message"),
        (BOT, "bot audio"),
        (TOOL, "tool call"),
        (INTERRUPTION, "interruption"),
        (LATENCY, "latency to first audio"),
    )
    px = float(_LEFT)
    for color, label in entries:
        draw.rectangle((px, y + 3, px + 14, y + 15), fill=color)
        draw.text((px + 20, y), label, fill=INK, font=font)
        px += 40 + draw.textlength(label, font=font)
