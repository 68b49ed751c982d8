"""InputAudio without sockets or an event loop: order, holding, commits, pre-roll."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable

import numpy as np

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.core.input_audio import InputAudio
from pipecat_realtime_openai.core.turn_audio import InputAudioTimeline, TurnAudio
from pipecat_realtime_openai.core.video import VideoRateLimit

PCM24 = AudioFormatSpec.from_session_format({"type": "audio/pcm", "rate": 24000})


def types(texts: Iterable[str]) -> list[str]:
    return [json.loads(t)["type"] for t in texts]


def audio(texts: Iterable[str]) -> bytes:
    return b"".join(
        base64.b64decode(json.loads(t)["audio"])
        for t in texts
        if json.loads(t)["type"] == "input_audio_buffer.append"
    )


def ramp(n_samples: int, start: int = 0) -> bytes:
    return (np.arange(start, start + n_samples) % 20000).astype("<i2").tobytes()


def path(**kwargs) -> InputAudio:
    options = {"batch_ms": 40, "max_pending_secs": 10.0, "preroll_secs": None}
    options.update(kwargs)
    return InputAudio(PCM24, TurnAudio(InputAudioTimeline(PCM24, 60_000)), **options)


def test_pushes_and_flushes_keep_the_audio_in_order():
    audio_in = path()
    audio_in.release()
    # 110 ms frames against 40 ms batches: each push sends several chunks and holds a
    # tail, and a flush between two pushes sends the tail first.
    frames = [ramp(2640, i * 2640) for i in range(30)]
    sent: list[str] = []
    for i, frame in enumerate(frames):
        sent += audio_in.push(frame, 24000, 1)
        if i % 3 == 0:
            audio_in.flush()
            sent += audio_in.take()
    audio_in.flush()
    sent += audio_in.take()
    assert audio(sent) == b"".join(frames)
    assert audio_in.sent_bytes == len(b"".join(frames))


def test_most_frames_send_nothing_and_build_no_list():
    audio_in = path(batch_ms=60)
    audio_in.release()
    results = [audio_in.push(ramp(480, i * 480), 24000, 1) for i in range(30)]  # 20 ms frames
    assert sum(1 for r in results if r) == 10, "one append per 60 ms"
    empty = [r for r in results if not r]
    assert all(r is empty[0] for r in empty), "nothing to send is one shared empty tuple"


def test_held_audio_and_commit_go_out_in_order_when_released():
    audio_in = path()
    assert audio_in.push(ramp(2400), 24000, 1) == ()  # 100 ms, held
    audio_in.commit()
    assert audio_in.push(ramp(1200, 2400), 24000, 1) == ()
    assert audio_in.held_ms > 0
    audio_in.release()
    audio_in.flush()
    sent = list(audio_in.take())
    commit = types(sent).index("input_audio_buffer.commit")
    assert audio(sent[:commit]) == ramp(2400)
    assert audio(sent) == ramp(3600)
    assert audio_in.held_ms == 0


def test_pending_limit_drops_the_oldest_audio():
    audio_in = path(max_pending_secs=0.1)
    for i in range(10):
        audio_in.push(ramp(2400, i * 2400), 24000, 1)
    audio_in.release()
    audio_in.flush()
    sent = audio(audio_in.take())
    everything = b"".join(ramp(2400, i * 2400) for i in range(10))
    # At most 100 ms is kept, whole 40 ms chunks, and it is the newest audio.
    assert 2 * 960 * 2 <= len(sent) <= 2400 * 2
    assert everything.endswith(sent)


def test_hold_keeps_audio_until_the_next_release():
    audio_in = path()
    audio_in.release()
    audio_in.hold()
    assert audio_in.push(ramp(2400), 24000, 1) == ()
    audio_in.reset(keep_held=True)
    audio_in.release()
    kept = audio(audio_in.take())
    assert kept and ramp(2400).startswith(kept), "the held batches, oldest first"
    audio_in.reset()
    audio_in.push(ramp(2400), 24000, 1)
    audio_in.reset()
    audio_in.release()
    assert audio_in.take() == (), "a reset without keep_held discards what was held"


def test_preroll_is_replayed_after_clear_in_manual_mode():
    audio_in = path(preroll_secs=0.05)
    audio_in.set_manual_turns(True)
    audio_in.release()
    audio_in.push(ramp(4800), 24000, 1)  # 200 ms
    audio_in.flush()
    audio_in.take()
    audio_in.clear_and_replay_preroll()
    sent = audio_in.take()
    assert types(sent) == ["input_audio_buffer.clear", "input_audio_buffer.append"]
    assert audio(sent) == ramp(4800)[-1200 * 2 :]  # the last 50 ms


def test_no_clear_while_audio_is_held():
    audio_in = path(preroll_secs=0.05)
    audio_in.set_manual_turns(True)
    audio_in.clear_and_replay_preroll()
    assert audio_in.take() == ()


def test_vad_start_secs_sizes_the_preroll_unless_fixed():
    audio_in = path()
    audio_in.set_manual_turns(True)
    audio_in.set_vad_start_secs(0.0)  # 0 + 0.3 s margin
    audio_in.release()
    audio_in.push(ramp(24000), 24000, 1)  # 1 s
    audio_in.flush()
    audio_in.take()
    audio_in.clear_and_replay_preroll()
    assert len(audio(audio_in.take())) == 7200 * 2

    fixed = path(preroll_secs=0.1)
    fixed.set_manual_turns(True)
    fixed.set_vad_start_secs(0.0)
    fixed.release()
    fixed.push(ramp(24000), 24000, 1)
    fixed.flush()
    fixed.take()
    fixed.clear_and_replay_preroll()
    assert len(audio(fixed.take())) == 2400 * 2


def test_retarget_sends_the_old_format_first():
    audio_in = path(batch_ms=100)
    audio_in.release()
    audio_in.push(ramp(1200), 24000, 1)  # 50 ms: below one batch
    assert audio_in.take() == ()
    g711 = AudioFormatSpec.from_session_format({"type": "audio/pcmu"})
    audio_in.retarget(g711)
    assert audio(audio_in.take()) == ramp(1200)
    assert audio_in.target == g711


def test_video_rate_limit():
    video = VideoRateLimit(max_fps=2.0)
    assert video.accept(10.0)
    assert not video.accept(10.4)
    assert video.accept(10.5)
    assert not VideoRateLimit(max_fps=0).accept(0.0), "0 fps sends no video"


def test_a_manual_speech_start_opens_the_turn_less_the_preroll():
    turns = TurnAudio(InputAudioTimeline(PCM24, 60_000, idle_keep_ms=2_000))
    inp = InputAudio(PCM24, turns, batch_ms=40, max_pending_secs=10.0, preroll_secs=0.5)
    inp.set_manual_turns(True)
    inp.release()
    texts: list[str] = []
    for n in range(10):  # 10 s before the user speaks
        texts.extend(inp.push(ramp(24_000, n * 24_000), 24000, 1))
    inp.user_started_speaking()
    texts.extend(inp.push(ramp(24_000, 10 * 24_000), 24000, 1))
    inp.commit()
    texts.extend(inp.take())
    assert audio(texts) == ramp(11 * 24_000), "the server gets all of it"
    # The commit's audio: the second of speech and the half second of pre-roll before it.
    kept = turns.on_committed("item_1")
    assert kept == ramp(36_000, 9 * 24_000 + 12_000)


def test_a_speech_start_in_server_vad_mode_changes_nothing():
    turns = TurnAudio(InputAudioTimeline(PCM24, 60_000))
    inp = InputAudio(PCM24, turns, batch_ms=40, max_pending_secs=10.0, preroll_secs=0.5)
    inp.release()
    inp.push(ramp(24_000), 24000, 1)
    inp.user_started_speaking()
    inp.set_manual_turns(True)
    inp.commit()
    assert turns.on_committed("item_1") == ramp(24_000), "the buffer since the last commit"
