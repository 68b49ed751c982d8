"""Watching the demo conversation: transcript lines, the bot's audio, tool calls, usage.

`ConversationMonitor` is a Pipecat observer that only looks at what the realtime service
pushes, so each frame is seen once however many processors it crosses afterwards. It
also tells the demo's driver when the bot has finished answering a user turn.
`TranscriptPrinter` writes the console transcript, streaming the bot's words.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass

from demo_audio import BOT_SAMPLE_RATE
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import (
    ErrorFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    FunctionCallsStartedFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    TextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
)
from pipecat.metrics.metrics import LLMUsageMetricsData
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class DemoFailedError(RuntimeError):
    """The service reported a fatal error, so the conversation cannot go on."""


@dataclass
class TokenTotals:
    """Token usage summed over every response that reported it."""

    responses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class TranscriptPrinter:
    """Console transcript: streams the bot's words as they arrive, one line per answer.

    Other lines (a user transcript, a tool call) that come while the bot is mid-sentence
    are held until its line ends, so lines never cut into each other.
    """

    ASSISTANT_PREFIX = "assistant: "

    def __init__(self, write: Callable[[str], object] | None = None) -> None:
        """Create a printer.

        Args:
            write: Where text goes (standard output by default).
        """
        self._write = write or self._stdout
        self._streaming = False
        self._held: list[str] = []

    @staticmethod
    def _stdout(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def line(self, text: str) -> None:
        """Print a whole line now, or after the bot's current line."""
        if self._streaming:
            self._held.append(text)
        else:
            self._write(text + "\n")

    def stream(self, piece: str) -> None:
        """Print more of the bot's current line."""
        if not self._streaming:
            self._streaming = True
            self._write(self.ASSISTANT_PREFIX)
            piece = piece.lstrip()
        self._write(piece)

    def end_stream(self) -> None:
        """End the bot's current line and print whatever was held back."""
        if self._streaming:
            self._streaming = False
            self._write("\n")
        for text in self._held:
            self._write(text + "\n")
        self._held.clear()


class ConversationMonitor(BaseObserver):
    """Prints the transcript as it happens and collects what the bot produced.

    Attributes:
        printer: The console transcript.
        bot_audio: The bot's speech, 16-bit mono PCM at `BOT_SAMPLE_RATE`.
        assistant_lines: What the bot said, one entry per response that said something.
        user_transcripts: Transcripts of the user's spoken turns.
        usage: Token usage totals.
        errors: Error messages the service reported.
    """

    def __init__(self, llm: FrameProcessor, printer: TranscriptPrinter | None = None) -> None:
        """Watch `llm`.

        Args:
            llm: The realtime service whose pushes are observed.
            printer: Where the transcript goes (standard output by default).
        """
        super().__init__()
        self._llm = llm
        self.printer = printer or TranscriptPrinter()
        self._resampler = create_stream_resampler()
        self.bot_audio = bytearray()
        self.assistant_lines: list[str] = []
        self.user_transcripts: list[str] = []
        self.usage = TokenTotals()
        self.errors: list[str] = []
        self._fatal: str | None = None
        self._replies = 0
        self._changed = asyncio.Condition()
        # An audio response carries its words twice (as spoken text and as LLM text);
        # whichever kind comes first in a response is the one shown.
        self._text_kind: type[TextFrame] | None = None
        self._text: list[str] = []
        self._response_output = False
        self._response_called_tool = False
        self._calls_in_flight: set[str] = set()

    @property
    def replies(self) -> int:
        """Number of finished answers (responses with speech or text and no tool call)."""
        return self._replies

    async def wait_for_reply(self, after: int) -> None:
        """Wait until more than `after` answers have finished.

        Raises:
            DemoFailedError: When the service reports a fatal error first.
        """
        async with self._changed:
            await self._changed.wait_for(lambda: self._replies > after or self._fatal is not None)
        if self._fatal is not None:
            raise DemoFailedError(self._fatal)

    async def on_push_frame(self, data: FramePushed) -> None:
        """Look at one frame push; only the realtime service's own pushes count."""
        if data.source is not self._llm:
            return
        frame = data.frame
        downstream = data.direction == FrameDirection.DOWNSTREAM
        if isinstance(frame, TTSAudioRawFrame):
            await self._add_audio(frame)
        elif isinstance(frame, TTSTextFrame | LLMTextFrame) and downstream:
            self._add_text(frame)
        elif isinstance(frame, TranscriptionFrame):
            self.user_transcripts.append(frame.text)
            self.printer.line(f"user:      {frame.text}  (transcript of the spoken turn)")
        elif isinstance(frame, LLMFullResponseStartFrame):
            self._start_response()
        elif isinstance(frame, LLMFullResponseEndFrame):
            await self._end_response()
        elif isinstance(frame, FunctionCallsStartedFrame) and downstream:
            self._response_called_tool = True
        elif isinstance(frame, FunctionCallInProgressFrame) and downstream:
            self._response_called_tool = True
            self._calls_in_flight.add(frame.tool_call_id)
        elif isinstance(frame, FunctionCallResultFrame) and downstream:
            self._calls_in_flight.discard(frame.tool_call_id)
        elif isinstance(frame, MetricsFrame):
            self._add_usage(frame)
        elif isinstance(frame, ErrorFrame):
            await self._add_error(frame)

    async def _add_audio(self, frame: TTSAudioRawFrame) -> None:
        self._response_output = True
        audio = frame.audio
        if frame.sample_rate != BOT_SAMPLE_RATE:
            audio = await self._resampler.resample(audio, frame.sample_rate, BOT_SAMPLE_RATE)
        self.bot_audio.extend(audio)

    def _add_text(self, frame: TextFrame) -> None:
        self._response_output = True
        kind = type(frame)
        if self._text_kind is None:
            self._text_kind = kind
        elif kind is not self._text_kind:
            return
        piece = frame.text
        # Streamed deltas either carry their own spacing or expect one between them.
        if self._text and not frame.includes_inter_frame_spaces:
            piece = " " + piece
        self._text.append(piece)
        self.printer.stream(piece)

    def _start_response(self) -> None:
        self._text_kind = None
        self._text.clear()
        self._response_output = False
        self._response_called_tool = False

    async def _end_response(self) -> None:
        text = "".join(self._text).strip()
        if text:
            self.assistant_lines.append(text)
        self.printer.end_stream()
        # A response that called a tool is followed by the one that uses its result.
        answered = self._response_output and not self._response_called_tool
        self._start_response()
        if answered and not self._calls_in_flight:
            async with self._changed:
                self._replies += 1
                self._changed.notify_all()

    def _add_usage(self, frame: MetricsFrame) -> None:
        for item in frame.data:
            if isinstance(item, LLMUsageMetricsData):
                self.usage.responses += 1
                self.usage.input_tokens += item.value.prompt_tokens
                self.usage.output_tokens += item.value.completion_tokens
                self.usage.total_tokens += item.value.total_tokens

    async def _add_error(self, frame: ErrorFrame) -> None:
        self.errors.append(frame.error)
        self.printer.line(f"error:     {frame.error}")
        if frame.fatal:
            async with self._changed:
                self._fatal = frame.error
                self._changed.notify_all()
