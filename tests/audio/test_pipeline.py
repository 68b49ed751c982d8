import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipecat_realtime_openai.audio.formats import PCM24K, PCMA, PCMU
from pipecat_realtime_openai.audio.g711 import ulaw_to_pcm16
from pipecat_realtime_openai.audio.pipeline import InputAudioConverter, OutputAudioDecoder

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


LOOKAHEAD_MS = 4.0
"""Most a batch may be short of its duration: the resampler's look-ahead plus one group."""


def tone(rate: int, freq: float, seconds: float, amplitude: float = 10000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2")


def frames(samples: np.ndarray, rate: int, ms: int = 20, channels: int = 1) -> list[bytes]:
    step = rate * ms // 1000 * channels
    return [samples[i : i + step].tobytes() for i in range(0, len(samples), step)]


def convert_all(converter: InputAudioConverter, chunks: list[bytes], rate: int, channels: int = 1):
    batches = []
    for chunk in chunks:
        batches.extend(converter.convert(chunk, rate, channels))
    return batches, converter.flush()


def peak_frequency(samples: np.ndarray, rate: int) -> float:
    middle = samples[len(samples) // 4 : 3 * len(samples) // 4].astype(np.float64)
    magnitude = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    return float(np.fft.rfftfreq(len(middle), 1 / rate)[magnitude.argmax()])


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 44100, 48000])
def test_pcm24k_end_to_end_loses_nothing(rate: int) -> None:
    converter = InputAudioConverter(PCM24K, batch_ms=40)
    batches, tail = convert_all(converter, frames(tone(rate, 440, 1.0), rate), rate)
    assert batches, "a second of audio must produce full batches before the flush"
    # 40 ms each, short at most by the filter's look-ahead, which the next batch carries.
    assert all(40 - LOOKAHEAD_MS <= PCM24K.ms_from_bytes(len(b)) <= 40 for b in batches)
    assert all(len(batch) == 1920 for batch in batches[1:])
    if rate == 24000:
        assert all(len(batch) == 1920 for batch in batches)
    out = np.frombuffer(b"".join(batches + tail), "<i2")
    assert abs(len(out) - 24000) <= 1
    assert abs(peak_frequency(out, 24000) - 440) < 3
    assert converter.pending_bytes == 0


def test_batches_are_emitted_as_soon_as_they_are_complete() -> None:
    converter = InputAudioConverter(PCM24K, batch_ms=40)
    emitted_after = []
    produced = 0
    for index, chunk in enumerate(frames(tone(16000, 300, 0.4), 16000)):
        batches = converter.convert(chunk, 16000, 1)
        produced += sum(len(batch) for batch in batches)
        emitted_after.append(produced)
        # The frame that completes 40 ms of input sends the batch, short only by the
        # filter's look-ahead (under 2 ms): no frame waits for the next one.
        input_ms = (index + 1) * 20
        waiting_ms = input_ms - PCM24K.ms_from_bytes(produced)
        assert waiting_ms <= (2 if input_ms % 40 == 0 else 20 + 2)
    assert emitted_after[-1] >= 0.4 * 48000 - 2 * 48


def test_pcmu_end_to_end_matches_reference_codec() -> None:
    converter = InputAudioConverter(PCMU, batch_ms=20)
    source = tone(8000, 1000, 0.5)
    batches, tail = convert_all(converter, frames(source, 8000), 8000)
    assert all(len(batch) == 160 for batch in batches)
    # 8 kHz in, 8 kHz out: no resampling, so the bytes are exactly the G.711 encoding.
    assert b"".join(batches + tail) == audioop.lin2ulaw(source.tobytes(), 2)


@pytest.mark.parametrize("target", [PCMU, PCMA])
def test_g711_target_from_wideband_stereo(target) -> None:
    rate = 48000
    mono = tone(rate, 700, 0.5)
    stereo = np.column_stack([mono, mono]).reshape(-1)
    converter = InputAudioConverter(target, batch_ms=40)
    batches, tail = convert_all(converter, frames(stereo, rate, channels=2), rate, channels=2)
    wire = b"".join(batches + tail)
    assert abs(len(wire) - 4000) <= 1
    assert all(40 - LOOKAHEAD_MS <= target.ms_from_bytes(len(b)) <= 40 for b in batches)
    decoded = np.frombuffer(OutputAudioDecoder(target).decode(wire), "<i2")
    assert abs(peak_frequency(decoded, 8000) - 700) < 5
    assert np.sqrt(np.mean(decoded[1000:3000].astype(np.float64) ** 2)) == pytest.approx(
        10000 / np.sqrt(2), rel=0.05
    )


def test_stereo_downmix_in_converter() -> None:
    left = tone(24000, 440, 0.2)
    silence = np.zeros_like(left)
    stereo = np.column_stack([left, silence]).reshape(-1)
    converter = InputAudioConverter(PCM24K)
    batches, tail = convert_all(converter, frames(stereo, 24000, channels=2), 24000, channels=2)
    out = np.frombuffer(b"".join(batches + tail), "<i2")
    assert np.array_equal(out, (left.astype(np.int32) // 2).astype("<i2"))


def test_flush_returns_short_tail_and_converter_continues() -> None:
    converter = InputAudioConverter(PCM24K, batch_ms=40)
    assert converter.convert(tone(24000, 440, 0.03).tobytes(), 24000, 1) == []
    tail = converter.flush()
    assert [len(chunk) for chunk in tail] == [1440]
    assert converter.flush() == []
    batches = converter.convert(tone(24000, 440, 0.04).tobytes(), 24000, 1)
    assert [len(batch) for batch in batches] == [1920]


def test_input_rate_change_mid_stream_keeps_all_audio() -> None:
    converter = InputAudioConverter(PCM24K, batch_ms=40)
    first, second = tone(16000, 440, 0.31), tone(48000, 440, 0.27)
    batches: list[bytes] = []
    for chunk in frames(first, 16000):
        batches.extend(converter.convert(chunk, 16000, 1))
    for chunk in frames(second, 48000):
        batches.extend(converter.convert(chunk, 48000, 1))
    batches.extend(converter.flush())
    assert abs(len(b"".join(batches)) // 2 - round(0.31 * 24000) - round(0.27 * 24000)) <= 2


def test_retarget_flushes_in_old_format_then_switches() -> None:
    converter = InputAudioConverter(PCM24K, batch_ms=40)
    assert converter.convert(tone(24000, 440, 0.03).tobytes(), 24000, 1) == []
    flushed = converter.retarget(PCMU)
    assert [len(chunk) for chunk in flushed] == [1440]
    assert converter.target == PCMU
    batches = converter.convert(tone(24000, 440, 0.04).tobytes(), 24000, 1)
    batches.extend(converter.flush())
    assert sum(len(batch) for batch in batches) == 320
    assert converter.retarget(PCMU) == []


def test_invalid_batch_ms() -> None:
    with pytest.raises(ValueError):
        InputAudioConverter(PCM24K, batch_ms=0)


def test_output_decoder() -> None:
    pcm = tone(24000, 440, 0.01).tobytes()
    decoder = OutputAudioDecoder(PCM24K)
    assert decoder.sample_rate == 24000
    assert decoder.decode(pcm) == pcm
    codes = bytes(range(256))
    assert OutputAudioDecoder(PCMU).decode(codes) == ulaw_to_pcm16(codes)
    assert OutputAudioDecoder(PCMA).decode(codes) == audioop.alaw2lin(codes, 2)
    assert OutputAudioDecoder(PCMA).sample_rate == 8000


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([8000, 16000, 24000, 44100, 48000]),
    st.sampled_from([PCM24K, PCMU]),
    st.sampled_from([1, 2]),
    st.lists(st.integers(min_value=0, max_value=1200), min_size=1, max_size=25),
)
def test_converter_conserves_duration_for_any_framing(rate, target, channels, sizes) -> None:
    converter = InputAudioConverter(target, batch_ms=40)
    rng = np.random.default_rng(sum(sizes))
    out: list[bytes] = []
    for size in sizes:
        frame = rng.integers(-8000, 8000, size * channels, dtype=np.int16).astype("<i2")
        batches = converter.convert(frame.tobytes(), rate, channels)
        # Half a batch or more: a smaller rest after a long frame waits for the next one.
        assert all(20 <= target.ms_from_bytes(len(batch)) <= 40 for batch in batches)
        out.extend(batches)
    out.extend(converter.flush())
    expected_samples = round(sum(sizes) * target.sample_rate / rate)
    assert abs(len(b"".join(out)) // target.bytes_per_sample - expected_samples) <= 1


def test_odd_length_mono_frame_is_rejected() -> None:
    with pytest.raises(ValueError):
        InputAudioConverter(PCM24K).convert(b"\x00\x00\x00", 24000, 1)
