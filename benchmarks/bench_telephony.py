r"""A phone call's audio through the service: G.711 at 8 kHz against 24 kHz PCM.

Run: ``.venv/bin/python benchmarks/bench_telephony.py [--seconds 20] [--rounds 8]``.

Three services, each in its own real pipeline ``[service, sink]``, connected to one
Realtime simulator that runs in another process (so this process's CPU clock holds
only the client's work), with server turn detection off:

* **g711**: the pipeline at 8 kHz both ways and no format named, so the session is
  ``audio/pcmu`` both ways (``core/telephony.py``): 8 kHz in, 8 kHz out, no resampling;
* **pcm24**: the pipeline at 24 kHz both ways, the session in 24 kHz ``audio/pcm``;
* **pcm24_at_8k**: the pipeline at 8 kHz with 24 kHz ``audio/pcm`` named on the session
  (an 8 kHz pipeline before ``core/telephony.py``): the service resamples the input
  8 -> 24 kHz; its output frames stay at 24 kHz (the transport resamples them).

Each round drives the same call through each, in turns (the order reverses every other
round), both paths straight into the service as ``bench_hot_paths.py`` does:

* **input**: ``--seconds`` of speech-level noise in 20 ms ``InputAudioRawFrame``\ s at
  the pipeline's rate, each awaited through ``service.process_frame``, then 50 ms for
  the sends to finish (idle time costs no CPU);
* **output**: a reply of ``--seconds`` of audio in 20 ms ``response.output_audio.delta``
  messages in the session's format, fed to the service's receive loop.

It reports CPU ms per 100 s of audio for each path and service: the median of the
rounds with a distribution-free 95 % interval (``bench_stats.median_interval``), and
the median of the per-round ratios of g711 to each other with its interval (rounds
are paired: all ran under the same machine conditions). Exact counts, the same on every run:
bytes and messages the service wrote to the socket, bytes of JSON fed to it, Python
calls in the package and in all (``sys.setprofile``), audio frames and bytes it pushed.

The transport side is not measured: with the pcm24 pipeline, a phone transport (say
Pipecat's Twilio serializer) resamples 8 <-> 24 kHz itself, which the g711 path also
spares.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from loguru import logger
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    TTSAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from benchmarks.bench_hot_paths import Batches, CallCounter
from benchmarks.bench_stats import MedianInterval, median_interval
from pipecat_realtime_openai import OpenAIRealtimeLLMService, events
from pipecat_realtime_openai.audio.formats import PCM24K, PCMU, AudioFormatSpec
from pipecat_realtime_openai.audio.g711 import pcm16_to_ulaw
from pipecat_realtime_openai.connection import RealtimeConnection
from pipecat_realtime_openai.core.phase import Phase

FRAME_MS = 20
SETTLE_S = 0.05
_LISTENING = re.compile(r"listening on (ws://\S+)")


@dataclass(frozen=True)
class CallPath:
    """One way of running the call: the pipeline's rate and the session's format."""

    name: str
    rate: int
    session_format: AudioFormatSpec
    named: bool = False
    """The session's formats are named in the settings (else the service picks them)."""


PATHS = (
    CallPath("g711", 8000, PCMU),
    CallPath("pcm24", 24000, PCM24K),
    CallPath("pcm24_at_8k", 8000, PCM24K, named=True),
)


class SentBytes:
    """Tallies what every `RealtimeConnection` writes to its socket (while counting)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.messages = 0
        self.counting = False
        original = RealtimeConnection.send
        tally = self

        async def send(connection: RealtimeConnection, text: str) -> None:
            if tally.counting:
                tally.bytes += len(text)
                tally.messages += 1
            await original(connection, text)

        RealtimeConnection.send = send  # type: ignore[method-assign]


class Sink(FrameProcessor):
    """End of the pipeline: counts the bot's audio frames and bytes."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.frames = 0
        self.bytes = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            self.frames += 1
            self.bytes += len(frame.audio)
        await self.push_frame(frame, direction)


@dataclass
class Call:
    """One path's service, running."""

    path: CallPath
    service: OpenAIRealtimeLLMService
    sink: Sink
    worker: PipelineWorker
    run: asyncio.Task[None]
    frames: list[InputAudioRawFrame]
    replies: int = 0
    cpu: dict[str, list[float]] = field(default_factory=lambda: {"input": [], "output": []})

    async def push_input(self) -> None:
        for frame in self.frames:
            await self.service.process_frame(frame, FrameDirection.DOWNSTREAM)
        await asyncio.sleep(SETTLE_S)

    def reply(self, seconds: float) -> list[str]:
        self.replies += 1
        return reply_messages(seconds, self.path.session_format, f"resp_{self.replies}")

    async def play(self, messages: list[str]) -> None:
        await self.service.supervisor.receive(Batches(messages))


def speech_noise(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.standard_normal(int(seconds * rate)) * 3000).clip(-32768, 32767).astype("<i2")


def input_frames(seconds: float, rate: int) -> list[InputAudioRawFrame]:
    """The caller's audio at `rate`, in 20 ms frames (built before any timing)."""
    audio = speech_noise(seconds, rate)
    step = rate * FRAME_MS // 1000
    return [
        InputAudioRawFrame(audio=audio[i : i + step].tobytes(), sample_rate=rate, num_channels=1)
        for i in range(0, len(audio) - step + 1, step)
    ]


def reply_messages(seconds: float, spec: AudioFormatSpec, response_id: str) -> list[str]:
    """``response.created``, one 20 ms audio delta a message in `spec`, ``response.done``."""
    pcm = speech_noise(seconds, spec.sample_rate)
    wire = pcm16_to_ulaw(pcm.tobytes()) if spec is PCMU else pcm.tobytes()
    step = spec.bytes_from_ms(FRAME_MS)
    part = {"response_id": response_id, "item_id": f"item_{response_id}", "output_index": 0}
    created = {"type": "response.created", "event_id": "e0", "response": {"id": response_id}}
    messages = [json.dumps(created)]
    for i in range(0, len(wire) - step + 1, step):
        delta = base64.b64encode(wire[i : i + step]).decode("ascii")
        event = {"type": "response.output_audio.delta", "event_id": f"e{i}", **part}
        messages.append(json.dumps({**event, "content_index": 0, "delta": delta}))
    done = {"id": response_id, "status": "completed", "output": []}
    messages.append(json.dumps({"type": "response.done", "event_id": "ez", "response": done}))
    return messages


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "pipecat_realtime_openai.testing", "--port", "0", "--pace", "fast"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = _LISTENING.search(line)
    if not found:
        process.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}")
    return process, found.group(1)


async def open_call(path: CallPath, url: str, seconds: float) -> Call:
    audio = events.AudioConfiguration(input=events.AudioInput(turn_detection=False))
    if path.named:
        pcm = path.session_format.sample_rate
        audio.input.format = events.PCMAudioFormat(rate=pcm)  # type: ignore[union-attr]
        audio.output = events.AudioOutput(format=events.PCMAudioFormat(rate=pcm))
    settings = OpenAIRealtimeLLMService.Settings(
        session_properties=events.SessionProperties(audio=audio)
    )
    service = OpenAIRealtimeLLMService(api_key="sk-bench", base_url=url, settings=settings)
    sink = Sink()
    worker = PipelineWorker(
        Pipeline([service, sink]),
        params=PipelineParams(audio_in_sample_rate=path.rate, audio_out_sample_rate=path.rate),
        enable_rtvi=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.create_task(runner.run())
    async with asyncio.timeout(10):
        while service.core.phase is not Phase.READY:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.02)
    return Call(path, service, sink, worker, run, input_frames(seconds, path.rate))


async def counted(call: Call, seconds: float, sent: SentBytes) -> dict[str, float]:
    """The exact counts of one run of each path, scaled to 100 s of audio."""
    scale = 100.0 / seconds
    counts: dict[str, float] = {}
    for name in ("input", "output"):
        messages = call.reply(seconds) if name == "output" else []
        frames_before, bytes_before = call.sink.frames, call.sink.bytes
        counter = CallCounter()
        sent.bytes = sent.messages = 0
        sent.counting = True

        async def work(name: str = name, messages: list[str] = messages) -> None:
            await (call.push_input() if name == "input" else call.play(messages))

        await counter.count(work)
        sent.counting = False
        counts[f"{name}_calls_package"] = counter.package * scale
        counts[f"{name}_calls_total"] = counter.total * scale
        if name == "input":
            counts["input_socket_bytes"] = sent.bytes * scale
            counts["input_socket_messages"] = sent.messages * scale
        else:
            counts["output_json_bytes"] = sum(len(m) for m in messages) * scale
            counts["output_frames"] = (call.sink.frames - frames_before) * scale
            counts["output_pcm_bytes"] = (call.sink.bytes - bytes_before) * scale
    return counts


async def measure(call: Call, name: str, seconds: float) -> None:
    messages = call.reply(seconds) if name == "output" else []
    start = time.process_time()
    if name == "input":
        await call.push_input()
    else:
        await call.play(messages)
    elapsed = time.process_time() - start
    call.cpu[name].append(elapsed * 1000 * 100 / seconds)
    await asyncio.sleep(0.1)  # outside the window: the simulator catches up


async def run(args: argparse.Namespace) -> dict[str, Any]:
    simulator, url = start_simulator()
    sent = SentBytes()
    try:
        calls = [await open_call(path, url, args.seconds) for path in PATHS]
        counts = {call.path.name: await counted(call, args.seconds, sent) for call in calls}
        for round_index in range(args.rounds):
            order = calls if round_index % 2 == 0 else calls[::-1]
            for name in ("input", "output"):
                for call in order:
                    await measure(call, name, args.seconds)
        for call in calls:
            await call.worker.queue_frame(LLMFullResponseEndFrame())
            await call.worker.cancel()
            await call.run
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    cpu = {call.path.name: call.cpu for call in calls}
    return {"counts": counts, "cpu": cpu}


def interval_text(interval: MedianInterval, digits: int = 1) -> str:
    return f"{interval.median:.{digits}f} [{interval.low:.{digits}f}, {interval.high:.{digits}f}]"


def table(results: dict[str, Any]) -> str:
    """The results as Markdown: CPU with intervals, then the exact counts."""
    cpu, counts = results["cpu"], results["counts"]
    lines = [
        "| per 100 s of audio | g711: 8 kHz pipeline, pcmu | pcm24: 24 kHz pipeline, pcm "
        "| ratio g711 / pcm24 | pcm24_at_8k: 8 kHz pipeline, 24 kHz pcm "
        "| ratio g711 / pcm24_at_8k |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    coverage = 1.0
    for name in ("input", "output"):
        cells = []
        for other in ("pcm24", "pcm24_at_8k"):
            pairs = zip(cpu["g711"][name], cpu[other][name], strict=True)
            ratios = median_interval([a / b for a, b in pairs if b > 0])
            own = median_interval(cpu[other][name])
            coverage = min(coverage, own.coverage, ratios.coverage)
            cells += [interval_text(own), interval_text(ratios, 2)]
        g711 = median_interval(cpu["g711"][name])
        coverage = min(coverage, g711.coverage)
        lines.append(f"| {name}: CPU ms | {interval_text(g711)} | " + " | ".join(cells) + " |")
    rows = (
        ("input: bytes written to the socket", "input_socket_bytes"),
        ("input: messages written to the socket", "input_socket_messages"),
        ("input: Python calls in the package", "input_calls_package"),
        ("input: Python calls in all", "input_calls_total"),
        ("output: bytes of JSON received", "output_json_bytes"),
        ("output: Python calls in the package", "output_calls_package"),
        ("output: Python calls in all", "output_calls_total"),
        ("output: audio frames pushed", "output_frames"),
        ("output: PCM bytes pushed (at the session's rate)", "output_pcm_bytes"),
    )
    for label, key in rows:
        g711 = counts["g711"][key]
        cells = [f"{g711:,.0f}"]
        for other in ("pcm24", "pcm24_at_8k"):
            value = counts[other][key]
            cells += [f"{value:,.0f}", f"{g711 / value:.2f}" if value else "n/a"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"CPU cells: median of the rounds [distribution-free interval, coverage >= "
        f"{coverage:.0%}]; the ratio is the median of the per-round ratios."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per run (20)")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds (8)")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    results = asyncio.run(run(args))
    if args.json:
        print(json.dumps(results))
    print(table(results))
    for name in (path.name for path in PATHS):
        for path_name in ("input", "output"):
            samples = ", ".join(f"{v:.1f}" for v in results["cpu"][name][path_name])
            print(f"- {name} {path_name}: {samples}", file=sys.stderr)


if __name__ == "__main__":
    main()
