import numpy as np
import pytest

from pipecat_realtime_openai.testing.vad import (
    EnergyVad,
    VadEvent,
    VadSettings,
    threshold_to_rms,
)


def settings(**overrides):
    base = dict(
        threshold=0.5,
        prefix_padding_ms=300,
        silence_duration_ms=200,
        create_response=True,
        interrupt_response=True,
    )
    base.update(overrides)
    return VadSettings(**base)


def constant(ms: int, level: float, rate: int = 24000) -> np.ndarray:
    # A square-ish signal whose RMS equals `level`.
    n = rate * ms // 1000
    signs = np.where(np.arange(n) % 2 == 0, 1, -1)
    return (signs * level).astype(np.int16)


def test_threshold_mapping_is_documented_db_scale():
    assert threshold_to_rms(0.5) == pytest.approx(32768 * 10 ** (-40 / 20))
    assert threshold_to_rms(0.0) < threshold_to_rms(0.5) < threshold_to_rms(1.0)


def test_start_includes_prefix_and_stop_comes_after_silence():
    vad = EnergyVad(settings())
    audio = np.concatenate([constant(500, 0), constant(700, 3000), constant(400, 0)])
    events = vad.feed(audio, 24000, start_ms=0, floor_ms=0)
    assert events == [VadEvent("started", 200), VadEvent("stopped", 1400)]


def test_prefix_is_clamped_to_buffer_start():
    vad = EnergyVad(settings())
    events = vad.feed(constant(300, 3000), 24000, start_ms=1000, floor_ms=900)
    assert events == [VadEvent("started", 900)]


def test_level_just_below_threshold_is_silence_and_above_is_speech():
    level = threshold_to_rms(0.5)
    assert EnergyVad(settings()).feed(constant(300, level * 0.9), 24000, 0, 0) == []
    assert EnergyVad(settings()).feed(constant(300, level * 1.1), 24000, 0, 0)[0].kind == "started"


def test_windows_span_chunk_boundaries():
    vad = EnergyVad(settings(prefix_padding_ms=0))
    audio = np.concatenate([constant(105, 0), constant(300, 3000), constant(300, 0)])
    events = []
    position = 0
    for size in (7, 333, 1001, 50, 4000, 12000):  # odd chunk sizes in samples
        piece = audio[position : position + size]
        events += vad.feed(piece, 24000, start_ms=position / 24, floor_ms=0)
        position += size
    events += vad.feed(audio[position:], 24000, start_ms=position / 24, floor_ms=0)
    assert [e.kind for e in events] == ["started", "stopped"]
    assert events[0].at_ms == 100  # the window holding the first loud samples


def test_silence_shorter_than_setting_does_not_end_the_turn():
    vad = EnergyVad(settings(silence_duration_ms=500))
    audio = np.concatenate([constant(200, 3000), constant(300, 0), constant(200, 3000)])
    assert [e.kind for e in vad.feed(audio, 24000, 0, 0)] == ["started"]


def test_semantic_vad_silence_depends_on_eagerness():
    high = VadSettings.from_turn_detection({"type": "semantic_vad", "eagerness": "high"})
    low = VadSettings.from_turn_detection({"type": "semantic_vad", "eagerness": "low"})
    assert high is not None and low is not None
    assert high.silence_duration_ms < low.silence_duration_ms
    assert VadSettings.from_turn_detection(None) is None


def test_works_on_8khz_samples():
    vad = EnergyVad(settings(prefix_padding_ms=0, silence_duration_ms=100))
    audio = np.concatenate(
        [constant(100, 0, 8000), constant(200, 3000, 8000), constant(200, 0, 8000)]
    )
    assert vad.feed(audio, 8000, 0, 0) == [VadEvent("started", 100), VadEvent("stopped", 400)]
