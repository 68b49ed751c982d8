"""CPU cost of input audio conversion: this package vs Pipecat's built-in path.

Run: `python benchmarks/bench_audio.py`. Feeds 100 s of noise-like speech-level audio in
20 ms chunks and reports CPU seconds (time.process_time, best of several runs):

- ours: `InputAudioConverter(PCM24K)` (resample + 40 ms batching) + base64 of each batch,
  plus the final flush;
- pipecat: `create_stream_resampler().resample(...)` + base64 of each chunk, as Pipecat's
  built-in Realtime service does per input frame.

- soxr batched: the cheapest soxr design (soxr HQ called once per 40 ms batch, as a
  lower bound of what soxr could cost), to show why this package uses its own filter.

Also reports audio each path held back at the end of the stream (ours: 0 after flush),
and ours' filter look-ahead latency.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipecat.audio.utils import create_stream_resampler

from pipecat_realtime_openai.audio.formats import PCM24K, PCMU, AudioFormatSpec
from pipecat_realtime_openai.audio.pipeline import InputAudioConverter
from pipecat_realtime_openai.audio.resample import StreamResampler

SECONDS = 100
CHUNK_MS = 20
REPEATS = 5


def make_chunks(rate: int) -> list[bytes]:
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(rate * SECONDS) * 3000).clip(-32768, 32767).astype("<i2")
    step = rate * CHUNK_MS // 1000
    return [audio[i : i + step].tobytes() for i in range(0, len(audio), step)]


def best_of(run: Callable[[], int]) -> tuple[float, int]:
    results = []
    for _ in range(REPEATS):
        start = time.process_time()
        out_bytes = run()
        results.append((time.process_time() - start, out_bytes))
    return min(results)


def ours(chunks: list[bytes], rate: int, target: AudioFormatSpec) -> Callable[[], int]:
    def run() -> int:
        converter = InputAudioConverter(target)
        total = 0
        for chunk in chunks:
            for batch in converter.convert(chunk, rate, 1):
                base64.b64encode(batch)
                total += len(batch)
        for batch in converter.flush():
            base64.b64encode(batch)
            total += len(batch)
        return total

    return run


def pipecat(chunks: list[bytes], rate: int, out_rate: int) -> Callable[[], int]:
    async def stream() -> int:
        resampler = create_stream_resampler()
        total = 0
        for chunk in chunks:
            out = await resampler.resample(chunk, rate, out_rate)
            base64.b64encode(out)
            total += len(out)
        return total

    return lambda: asyncio.run(stream())


def soxr_batched(chunks: list[bytes], rate: int, out_rate: int) -> Callable[[], int]:
    batch_in = rate * 40 // 1000 * 2
    batch_out = out_rate * 40 // 1000 * 2

    def run() -> int:
        stream = soxr.ResampleStream(rate, out_rate, 1, dtype="int16", quality="HQ")
        pending_in, pending_out, total = bytearray(), bytearray(), 0
        for chunk in chunks:
            pending_in += chunk
            if len(pending_in) >= batch_in:
                pending_out += stream.resample_chunk(np.frombuffer(pending_in, "<i2")).tobytes()
                pending_in.clear()
                while len(pending_out) >= batch_out:
                    base64.b64encode(pending_out[:batch_out])
                    del pending_out[:batch_out]
                    total += batch_out
        return total + len(pending_out)

    return run


def main() -> None:
    print(f"{SECONDS} s of mono input in {CHUNK_MS} ms chunks; CPU seconds, best of {REPEATS}")
    print(
        f"{'input':>6} {'target':>10} {'ours s':>7} {'pipecat s':>9} {'ratio':>5} "
        f"{'soxr batched s':>14} {'ours lookahead ms':>17} {'ours lost ms':>12} "
        f"{'pipecat lost ms':>15}"
    )
    for rate, target in ((16000, PCM24K), (48000, PCM24K), (44100, PCM24K), (16000, PCMU)):
        chunks = make_chunks(rate)
        expected = round(len(chunks) * CHUNK_MS * target.bytes_per_second / 1000)
        ours_cpu, ours_bytes = best_of(ours(chunks, rate, target))
        ours_lost = target.ms_from_bytes(expected - ours_bytes)
        lookahead = StreamResampler(rate, target.sample_rate).latency_samples * 1000 / rate
        sx_cpu, _ = best_of(soxr_batched(chunks, rate, target.sample_rate))
        if target is PCM24K:
            pc_cpu, pc_bytes = best_of(pipecat(chunks, rate, target.sample_rate))
            pc_lost = str(target.ms_from_bytes(expected - pc_bytes))
            ratio = f"{ours_cpu / pc_cpu:5.2f}"
            pc_text = f"{pc_cpu:9.4f}"
        else:
            ratio, pc_text, pc_lost = "  n/a", "      n/a", "n/a"
        print(
            f"{rate:>6} {target.wire_type:>10} {ours_cpu:7.4f} {pc_text} {ratio} "
            f"{sx_cpu:14.4f} {lookahead:17.2f} {ours_lost:>12} {pc_lost:>15}"
        )


if __name__ == "__main__":
    main()
