"""A short voice conversation through a Pipecat pipeline with pipecat-realtime-openai.

Run it from the repository root::

    python3 -m venv .venv && .venv/bin/pip install -q -e ".[examples]"
    .venv/bin/python examples/demo.py

With ``OPENAI_API_KEY`` set it talks to the OpenAI Realtime API; without it, to the
Realtime simulator bundled with this package, started in-process (no key, no network).
The conversation: a typed greeting, a spoken weather question (answered through a
``get_weather`` tool call handled locally), and a typed follow-up. The bot answers in
audio; its voice is saved to ``demo_output.wav`` and the transcript is printed as it goes.
Each turn's latencies (voice-to-voice for the spoken one) are printed at the end, and
drawn with the conversation on one time axis in ``demo_timeline.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from demo_audio import (
    BOT_SAMPLE_RATE,
    FRAME_MS,
    USER_SAMPLE_RATE,
    audio_frames,
    openai_speech,
    pcm_seconds,
    save_wav,
    silence,
    synthetic_speech,
)
from demo_conversation import (
    SYSTEM_INSTRUCTION,
    TURNS,
    WEATHER_FUNCTION,
    DemoResponder,
    UserTurn,
    WeatherTool,
)
from demo_monitor import ConversationMonitor, DemoFailedError, TranscriptPrinter
from demo_timeline import TurnPicture, describe_turn, render_timeline
from loguru import logger
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import EndFrame, InputAudioRawFrame, LLMMessagesAppendFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.workers.runner import WorkerRunner

from pipecat_realtime_openai import OpenAIRealtimeLLMService, TurnTimeline, events
from pipecat_realtime_openai.testing import RealtimeSimulator

# Silence after the spoken question: comfortably longer than the turn detection's
# silence_duration_ms below, so the server ends the user's turn.
TRAILING_SILENCE_S = 1.0
SILENCE_DURATION_MS = 500


@dataclass(frozen=True)
class Backend:
    """Where the service connects.

    Attributes:
        api_key: Key sent to the server (any string for the simulator).
        base_url: Realtime WebSocket endpoint, or None for OpenAI's.
        simulator: The in-process simulator, when there is no OpenAI key.
    """

    api_key: str
    base_url: str | None
    simulator: RealtimeSimulator | None


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the demo."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("demo_output.wav"),
        help="where to save the bot's audio (default: demo_output.wav)",
    )
    parser.add_argument(
        "--timeline",
        type=Path,
        default=Path("demo_timeline.png"),
        help="where to draw the turn timeline (default: demo_timeline.png)",
    )
    parser.add_argument(
        "--pace",
        choices=("realtime", "fast"),
        default="realtime",
        help="stream audio at real speed, or as fast as possible (default: realtime)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="give up after this many seconds (default: 60)",
    )
    parser.add_argument("--verbose", action="store_true", help="show Pipecat's debug log on stderr")
    return parser


def build_service(backend: Backend) -> OpenAIRealtimeLLMService:
    """Configure the realtime service: instructions, voice, transcription, turn detection."""
    session = events.SessionProperties(
        audio=events.AudioConfiguration(
            input=events.AudioInput(
                transcription=events.InputAudioTranscription(),
                turn_detection=events.TurnDetection(
                    type="server_vad", silence_duration_ms=SILENCE_DURATION_MS
                ),
            ),
            output=events.AudioOutput(voice="marin"),
        ),
    )
    kwargs = {"base_url": backend.base_url} if backend.base_url else {}
    return OpenAIRealtimeLLMService(
        api_key=backend.api_key,
        settings=OpenAIRealtimeLLMService.Settings(
            system_instruction=SYSTEM_INSTRUCTION, session_properties=session
        ),
        **kwargs,
    )


async def user_audio(
    turn: UserTurn, backend: Backend, printer: TranscriptPrinter
) -> tuple[bytes, int]:
    """The audio of a spoken turn: real speech from OpenAI, else synthetic speech."""
    if backend.simulator is None:
        try:
            return await openai_speech(turn.text, backend.api_key), BOT_SAMPLE_RATE
        except Exception as exc:  # the demo can go on with synthetic audio
            printer.line(f"(text-to-speech failed: {type(exc).__name__}; sending synthetic audio)")
    else:
        # The simulator cannot understand audio: tell it what this audio "says".
        backend.simulator.transcripts.put(turn.text)
    # About as long as a person takes to say the sentence.
    seconds = max(1.0, 0.065 * len(turn.text))
    return synthetic_speech(seconds, USER_SAMPLE_RATE), USER_SAMPLE_RATE


async def send_turn(
    worker: PipelineWorker,
    turn: UserTurn,
    backend: Backend,
    printer: TranscriptPrinter,
    realtime: bool,
) -> None:
    """Send one user turn into the pipeline."""
    if not turn.spoken:
        printer.line(f"user:      {turn.text}")
        message = {"role": "user", "content": turn.text}
        await worker.queue_frame(LLMMessagesAppendFrame(messages=[message], run_llm=True))
        return
    speech, rate = await user_audio(turn, backend, printer)
    pcm = speech + silence(TRAILING_SILENCE_S, rate)
    printer.line(f"user:      <speaks for {pcm_seconds(speech, rate):.1f} s>")
    frames: list[InputAudioRawFrame] = audio_frames(pcm, rate)
    for frame in frames:
        await worker.queue_frame(frame)
        if realtime:
            # As a microphone would: one frame per frame duration.
            await asyncio.sleep(FRAME_MS / 1000)


async def converse(
    worker: PipelineWorker,
    monitor: ConversationMonitor,
    turns: Sequence[UserTurn],
    backend: Backend,
    realtime: bool,
) -> None:
    """Play the user's turns, each after the bot has finished answering the previous one."""
    for turn in turns:
        answered = monitor.replies
        await send_turn(worker, turn, backend, monitor.printer, realtime)
        await monitor.wait_for_reply(after=answered)
    await worker.queue_frame(EndFrame())


class TimelineCollector:
    """Keeps each turn's timeline (``on_turn_timeline``) with the audio the bot said in it."""

    def __init__(self, llm: OpenAIRealtimeLLMService, monitor: ConversationMonitor) -> None:
        """Register on `llm`; `monitor` tells how much audio came so far."""
        self.turns: list[TurnPicture] = []
        self._monitor = monitor
        self._audio_bytes = 0
        llm.add_event_handler("on_turn_timeline", self._on_turn)

    async def _on_turn(self, llm: OpenAIRealtimeLLMService, timeline: TurnTimeline) -> None:
        total = len(self._monitor.bot_audio)
        seconds = pcm_seconds(bytes(total - self._audio_bytes), BOT_SAMPLE_RATE)
        self._audio_bytes = total
        self.turns.append(TurnPicture(timeline, seconds))


def print_latencies(turns: Sequence[TurnPicture], picture: Path | None) -> None:
    """Print each turn's latencies, and where the picture of them went."""
    print("\nLatency per turn")
    for turn in turns:
        print(f"  {describe_turn(turn.timeline)}")
    if picture is not None:
        print(f"  timeline:         {picture}")


def print_summary(
    monitor: ConversationMonitor,
    tool: WeatherTool,
    turns: Sequence[UserTurn],
    output: Path,
    elapsed: float,
) -> None:
    """Print what happened."""
    usage = monitor.usage
    print("\nSummary")
    print(f"  user turns:       {len(turns)} ({sum(t.spoken for t in turns)} spoken)")
    print(f"  bot answers:      {monitor.replies}")
    print(f"  tool calls:       {len(tool.calls)} (get_weather)")
    seconds = pcm_seconds(bytes(monitor.bot_audio), BOT_SAMPLE_RATE)
    print(f"  bot audio:        {seconds:.1f} s -> {output}")
    if usage.responses:
        print(
            f"  token usage:      {usage.input_tokens} in, {usage.output_tokens} out,"
            f" {usage.total_tokens} total over {usage.responses} responses"
        )
    else:
        print("  token usage:      not reported")
    print(f"  wall time:        {elapsed:.1f} s")


def build_worker(llm: OpenAIRealtimeLLMService, monitor: ConversationMonitor) -> PipelineWorker:
    """Assemble the pipeline: user aggregator -> realtime service -> assistant aggregator."""
    context = LLMContext(tools=ToolsSchema(standard_tools=[WEATHER_FUNCTION]))
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(context)
    pipeline = Pipeline([user_aggregator, llm, assistant_aggregator])
    return PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=USER_SAMPLE_RATE,
            audio_out_sample_rate=BOT_SAMPLE_RATE,
            enable_metrics=True,
            enable_usage_metrics=True,
        ),
        observers=[monitor],
        # No client app is attached, and the demo ends the session itself.
        enable_rtvi=False,
        idle_timeout_secs=None,
    )


async def hold_conversation(
    worker: PipelineWorker,
    monitor: ConversationMonitor,
    backend: Backend,
    args: argparse.Namespace,
) -> int:
    """Run the pipeline and the user's side of the conversation; return the exit code."""
    runner = WorkerRunner(handle_sigint=True)
    await runner.add_workers(worker)
    pipeline_run = asyncio.create_task(runner.run())
    conversation = asyncio.create_task(
        converse(worker, monitor, TURNS, backend, realtime=args.pace == "realtime")
    )
    try:
        async with asyncio.timeout(args.timeout):
            await asyncio.wait({pipeline_run, conversation}, return_when=asyncio.FIRST_COMPLETED)
            if not conversation.done():
                # Ctrl+C, or the pipeline gave up on its own.
                print("\nThe pipeline stopped before the conversation was over.")
                return 1
            conversation.result()
            await pipeline_run
    except TimeoutError:
        print(f"\nGave up after {args.timeout:.0f} s (see --timeout).")
        return 1
    except DemoFailedError as exc:
        print(f"\nThe service stopped with an error: {exc}")
        return 1
    finally:
        conversation.cancel()
        if not pipeline_run.done():
            await worker.cancel(reason="demo finished")
            await pipeline_run
    return 0


async def run_conversation(backend: Backend, args: argparse.Namespace) -> int:
    """Build the pipeline, hold the conversation, save the audio; return the exit code."""
    printer = TranscriptPrinter()
    llm = build_service(backend)
    tool = WeatherTool(say=printer.line)
    llm.register_function("get_weather", tool)
    monitor = ConversationMonitor(llm, printer)
    timelines = TimelineCollector(llm, monitor)
    worker = build_worker(llm, monitor)

    started = time.monotonic()
    code = await hold_conversation(worker, monitor, backend, args)
    save_wav(args.output, bytes(monitor.bot_audio), BOT_SAMPLE_RATE)
    print_summary(monitor, tool, TURNS, args.output, time.monotonic() - started)
    picture = None
    if timelines.turns:
        render_timeline(timelines.turns, args.timeline)
        picture = args.timeline
    print_latencies(timelines.turns, picture)
    return code if monitor.replies >= len(TURNS) else 1


async def main_async(args: argparse.Namespace) -> int:
    """Pick the backend (OpenAI or the simulator) and run the conversation."""
    api_key = os.environ.get("OPENAI_API_KEY")
    async with AsyncExitStack() as stack:
        if api_key:
            print("OPENAI_API_KEY is set: talking to the OpenAI Realtime API.")
            backend = Backend(api_key=api_key, base_url=None, simulator=None)
        else:
            simulator = RealtimeSimulator(responder=DemoResponder(), pace=args.pace)
            await stack.enter_async_context(simulator)
            print(
                "OPENAI_API_KEY is not set: talking to the bundled Realtime simulator"
                f" at {simulator.base_url} (replies are scripted, audio is synthetic)."
            )
            backend = Backend(api_key="sim-key", base_url=simulator.base_url, simulator=simulator)
        print()
        return await run_conversation(backend, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python examples/demo.py [--output PATH] [--pace fast] [--timeout S]``."""
    args = build_parser().parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="DEBUG" if args.verbose else "WARNING")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
