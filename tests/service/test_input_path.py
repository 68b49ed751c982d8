"""InputAudioPath without sockets: order, holding, commits, pre-roll."""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.service_input import InputAudioPath, VideoInput

PCM24 = AudioFormatSpec.from_session_format({"type": "audio/pcm", "rate": 24000})


class Wire:
    """Collects sent texts; yields to the loop on every send, like a socket may."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.sent = asyncio.Event()

    async def send(self, text: str) -> None:
        await asyncio.sleep(0)
        self.texts.append(text)
        self.sent.set()

    def types(self) -> list[str]:
        return [json.loads(t)["type"] for t in self.texts]

    def audio(self) -> bytes:
        return b"".join(
            base64.b64decode(json.loads(t)["audio"])
            for t in self.texts
            if json.loads(t)["type"] == "input_audio_buffer.append"
        )


def ramp(n_samples: int, start: int = 0) -> bytes:
    return (np.arange(start, start + n_samples) % 20000).astype("<i2").tobytes()


async def cancel_task(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def path(wire: Wire, **kwargs) -> InputAudioPath:
    options = {"batch_ms": 40, "flush_after_ms": 40, "max_pending_secs": 10.0, "preroll_secs": None}
    options.update(kwargs)
    return InputAudioPath(wire.send, PCM24, **options)


async def test_concurrent_flushes_never_reorder_audio():
    wire = Wire()
    audio_in = path(wire)
    await audio_in.set_ready(True)
    # 110 ms frames against 40 ms batches: each push sends several chunks and holds a
    # tail, so a flush slipping in between two of them would reorder the audio.
    frames = [ramp(2640, i * 2640) for i in range(30)]

    async def producer() -> None:
        for frame in frames:
            await audio_in.push(frame, 24000, 1)
            await asyncio.sleep(0)

    async def flusher() -> None:
        for _ in range(200):
            await audio_in.flush()
            await asyncio.sleep(0)

    await asyncio.gather(producer(), flusher())
    await audio_in.flush()
    assert wire.audio() == b"".join(frames)


async def test_held_audio_and_commit_go_out_in_order_when_ready():
    wire = Wire()
    audio_in = path(wire)
    await audio_in.push(ramp(2400), 24000, 1)  # 100 ms
    await audio_in.commit()
    await audio_in.push(ramp(1200, 2400), 24000, 1)
    assert wire.texts == []
    await audio_in.set_ready(True)
    await audio_in.flush()
    types = wire.types()
    commit = types.index("input_audio_buffer.commit")
    before = b"".join(base64.b64decode(json.loads(t)["audio"]) for t in wire.texts[:commit])
    assert before == ramp(2400)
    assert wire.audio() == ramp(3600)


async def test_pending_limit_drops_the_oldest_audio():
    wire = Wire()
    audio_in = path(wire, max_pending_secs=0.1)
    for i in range(10):
        await audio_in.push(ramp(2400, i * 2400), 24000, 1)
    await audio_in.set_ready(True)
    await audio_in.flush()
    sent = wire.audio()
    everything = b"".join(ramp(2400, i * 2400) for i in range(10))
    # At most 100 ms is kept, whole 40 ms chunks, and it is the newest audio.
    assert 2 * 960 * 2 <= len(sent) <= 2400 * 2
    assert everything.endswith(sent)


async def test_preroll_is_replayed_after_clear_in_manual_mode():
    wire = Wire()
    audio_in = path(wire, preroll_secs=0.05)
    audio_in.set_manual_turns(True)
    await audio_in.set_ready(True)
    await audio_in.push(ramp(4800), 24000, 1)  # 200 ms
    await audio_in.flush()
    wire.texts.clear()
    await audio_in.clear_and_replay_preroll()
    assert wire.types() == ["input_audio_buffer.clear", "input_audio_buffer.append"]
    assert wire.audio() == ramp(4800)[-1200 * 2 :]  # the last 50 ms


async def test_vad_start_secs_sizes_the_preroll_unless_fixed():
    wire = Wire()
    audio_in = path(wire)
    audio_in.set_manual_turns(True)
    audio_in.set_vad_start_secs(0.0)  # 0 + 0.3 s margin
    await audio_in.set_ready(True)
    await audio_in.push(ramp(24000), 24000, 1)  # 1 s
    await audio_in.flush()
    wire.texts.clear()
    await audio_in.clear_and_replay_preroll()
    assert len(wire.audio()) == 7200 * 2


async def test_pause_timer_flushes_the_tail():
    wire = Wire()
    audio_in = path(wire, batch_ms=100, flush_after_ms=20)
    await audio_in.set_ready(True)
    audio_in.start(asyncio.ensure_future)
    await audio_in.push(ramp(3000), 24000, 1)  # 125 ms: one batch, 25 ms held
    async with asyncio.timeout(2):
        while len(wire.audio()) < 6000:
            wire.sent.clear()
            await wire.sent.wait()
    await audio_in.stop(cancel_task)
    assert wire.audio() == ramp(3000)


async def test_flowing_audio_is_not_flushed_early_and_the_pause_flushes_once():
    wire = Wire()
    audio_in = path(wire, batch_ms=100, flush_after_ms=150)
    await audio_in.set_ready(True)
    audio_in.start(asyncio.ensure_future)
    frames = [ramp(480, i * 480) for i in range(26)]  # 26 x 20 ms = 520 ms
    for frame in frames:
        await audio_in.push(frame, 24000, 1)
        await asyncio.sleep(0.01)  # far below the pause
    sizes = [len(base64.b64decode(json.loads(t)["audio"])) for t in wire.texts]
    assert sizes == [4800] * 5  # only whole 100 ms batches while audio flows
    async with asyncio.timeout(2):
        while len(wire.audio()) < 26 * 960:
            wire.sent.clear()
            await wire.sent.wait()
    await audio_in.stop(cancel_task)
    assert wire.audio() == b"".join(frames)
    assert len(wire.texts) == 6  # the five batches and the flushed 20 ms tail


def test_video_rate_limit():
    video = VideoInput(max_fps=2.0, detail="auto")
    assert video.accept(10.0)
    assert not video.accept(10.4)
    assert video.accept(10.5)
    assert not VideoInput(max_fps=0, detail="auto").accept(0.0), "0 fps sends no video"
