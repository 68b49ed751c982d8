import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipecat_realtime_openai.audio.resample import StreamResampler, downmix_to_mono

RATE_PAIRS = [
    (8000, 24000),
    (16000, 24000),
    (24000, 24000),
    (44100, 24000),
    (48000, 24000),
    (8000, 8000),
    (16000, 8000),
    (24000, 8000),
    (44100, 8000),
    (48000, 8000),
]


def tone(rate: int, freq: float, seconds: float, amplitude: float = 12000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2")


def run_stream(resampler: StreamResampler, pcm: bytes, chunk_bytes: int) -> bytes:
    out = [resampler.process(pcm[i : i + chunk_bytes]) for i in range(0, len(pcm), chunk_bytes)]
    return b"".join(out) + resampler.flush()


def spectrum_peak(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """Frequency of the strongest bin and its amplitude (sample units) over the middle."""
    middle = samples[len(samples) // 4 : 3 * len(samples) // 4].astype(np.float64)
    window = np.hanning(len(middle))
    magnitude = np.abs(np.fft.rfft(middle * window)) * 2 / window.sum()
    freqs = np.fft.rfftfreq(len(middle), 1 / rate)
    peak = int(magnitude.argmax())
    return float(freqs[peak]), float(magnitude[peak])


def expected_len(n_in: int, in_rate: int, out_rate: int) -> int:
    return round(n_in * out_rate / in_rate)


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_no_samples_lost_after_flush(in_rate: int, out_rate: int) -> None:
    pcm = tone(in_rate, 440, 0.5).tobytes()
    out = run_stream(StreamResampler(in_rate, out_rate), pcm, in_rate // 50 * 2)
    assert abs(len(out) // 2 - expected_len(len(pcm) // 2, in_rate, out_rate)) <= 1


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
def test_tail_of_utterance_is_kept(in_rate: int, out_rate: int) -> None:
    # Silence then a burst right at the end: without a flush, the burst would be held back.
    samples = np.zeros(in_rate // 5, dtype="<i2")
    samples[-in_rate // 100 :] = tone(in_rate, 300, 0.01)
    out = np.frombuffer(
        run_stream(StreamResampler(in_rate, out_rate), samples.tobytes(), 640), "<i2"
    )
    tail = out[-out_rate // 100 :].astype(np.float64)
    assert np.sqrt(np.mean(tail**2)) > 12000 / np.sqrt(2) * 0.8


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(RATE_PAIRS),
    st.lists(st.integers(min_value=0, max_value=2000), min_size=1, max_size=30),
)
def test_length_conserved_for_any_chunking(pair: tuple[int, int], sizes: list[int]) -> None:
    in_rate, out_rate = pair
    total = sum(sizes)
    pcm = np.random.default_rng(total).integers(-20000, 20000, total, dtype=np.int16)
    resampler = StreamResampler(in_rate, out_rate)
    out = []
    start = 0
    for size in sizes:
        out.append(resampler.process(pcm[start : start + size].astype("<i2").tobytes()))
        start += size
    out.append(resampler.flush())
    assert abs(len(b"".join(out)) // 2 - expected_len(total, in_rate, out_rate)) <= 1


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(RATE_PAIRS),
    st.lists(st.integers(min_value=1, max_value=1500), min_size=2, max_size=12),
)
def test_output_does_not_depend_on_chunking(pair: tuple[int, int], sizes: list[int]) -> None:
    # The same samples, up to the float rounding of the filter's sums: BLAS may order a
    # product's sums differently for a different number of rows, which can move a sample
    # that lies on a rounding boundary by one step. Lost, repeated or misplaced input
    # would move many samples by far more.
    in_rate, out_rate = pair
    pcm = tone(in_rate, 523, sum(sizes) / in_rate).tobytes()
    whole = run_stream(StreamResampler(in_rate, out_rate), pcm, len(pcm))
    resampler = StreamResampler(in_rate, out_rate)
    pieces, start = [], 0
    for size in sizes:
        pieces.append(resampler.process(pcm[start : start + 2 * size]))
        start += 2 * size
    pieces.append(resampler.flush())
    chunked = np.frombuffer(b"".join(pieces), "<i2").astype(np.int32)
    expected = np.frombuffer(whole, "<i2").astype(np.int32)
    assert len(chunked) == len(expected)
    assert np.abs(chunked - expected).max(initial=0) <= 1


@pytest.mark.parametrize(
    ("in_rate", "out_rate", "freq"),
    [
        (16000, 24000, 1000),
        (16000, 24000, 6000),
        (8000, 24000, 3000),
        (48000, 24000, 440),
        (48000, 24000, 9000),
        (44100, 24000, 2500),
        (48000, 8000, 3000),
        (16000, 8000, 1200),
        (44100, 8000, 700),
    ],
)
def test_sine_keeps_frequency_and_amplitude(in_rate: int, out_rate: int, freq: float) -> None:
    pcm = tone(in_rate, freq, 1.0).tobytes()
    out = np.frombuffer(run_stream(StreamResampler(in_rate, out_rate), pcm, 960), "<i2")
    peak_freq, amplitude = spectrum_peak(out, out_rate)
    assert abs(peak_freq - freq) <= 2 * out_rate / (len(out) // 2)
    assert amplitude == pytest.approx(12000, rel=0.05)


@pytest.mark.parametrize(
    ("in_rate", "out_rate", "freq"),
    [
        (48000, 24000, 15000),
        (48000, 24000, 20000),
        (44100, 24000, 16000),
        (48000, 8000, 6000),
        (16000, 8000, 5500),
        (24000, 8000, 9000),
    ],
)
def test_downsampling_rejects_aliases(in_rate: int, out_rate: int, freq: float) -> None:
    # A tone above the output Nyquist must not fold back into the output band.
    pcm = tone(in_rate, freq, 1.0).tobytes()
    out = np.frombuffer(run_stream(StreamResampler(in_rate, out_rate), pcm, 960), "<i2")
    _, amplitude = spectrum_peak(out, out_rate)
    assert 20 * np.log10(amplitude / 12000) < -50


def test_upsampling_suppresses_images() -> None:
    pcm = tone(16000, 2000, 1.0).tobytes()
    out = np.frombuffer(run_stream(StreamResampler(16000, 24000), pcm, 640), "<i2")
    middle = out[6000:18000].astype(np.float64)
    window = np.hanning(len(middle))
    magnitude = np.abs(np.fft.rfft(middle * window)) * 2 / window.sum()
    freqs = np.fft.rfftfreq(len(middle), 1 / 24000)
    # 16 kHz - 2 kHz = 14 kHz folds to 10 kHz at 24 kHz; 16 + 2 = 18 kHz folds to 6 kHz.
    for image in (10000, 6000):
        level = magnitude[np.abs(freqs - image) < 50].max()
        assert 20 * np.log10(level / 12000) < -50


def test_full_scale_input_is_clipped_not_wrapped() -> None:
    # Full-scale square wave: the filter overshoots at each edge (Gibbs ripple).
    square = np.where(np.arange(4800) % 160 < 80, 32767, -32768).astype("<i2")
    out = np.frombuffer(run_stream(StreamResampler(48000, 24000), square.tobytes(), 960), "<i2")
    periods = out[80:2320].reshape(-1, 80)
    # A wrapped overshoot would flip the sign of samples next to an edge.
    assert np.all(periods[:, 2:38] > 25000)
    assert np.all(periods[:, 42:78] < -25000)
    assert out.max() == 32767
    assert out.min() == -32768


def test_stream_continues_after_flush() -> None:
    resampler = StreamResampler(16000, 24000)
    first = tone(16000, 440, 0.2).tobytes()
    a = resampler.process(first) + resampler.flush()
    b = resampler.process(first) + resampler.flush()
    assert a == b
    assert len(a) // 2 == 4800


def test_latency_is_small() -> None:
    for in_rate, out_rate in [(16000, 24000), (48000, 24000), (48000, 8000)]:
        resampler = StreamResampler(in_rate, out_rate)
        assert resampler.latency_samples * 1000 / in_rate < 3


def test_available_predicts_drain() -> None:
    resampler = StreamResampler(44100, 24000)
    rng = np.random.default_rng(3)
    for size in (100, 441, 1, 1000, 3):
        resampler.feed(rng.integers(-1000, 1000, size, dtype=np.int16).astype("<i2").tobytes())
        expected = resampler.available()
        assert len(resampler.drain()) // 2 == expected


def test_passthrough_is_identity() -> None:
    pcm = tone(24000, 440, 0.1).tobytes()
    resampler = StreamResampler(24000, 24000)
    assert resampler.process(pcm[:100]) + resampler.process(pcm[100:]) + resampler.flush() == pcm


def test_invalid_input() -> None:
    with pytest.raises(ValueError):
        StreamResampler(0, 24000)
    with pytest.raises(ValueError):
        StreamResampler(22050.5, 24000)  # type: ignore[arg-type]
    assert StreamResampler(16000.0, 24000).in_rate == 16000  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        StreamResampler(16000, 24000).process(b"\x00\x00\x00")


def test_downmix_stereo_averages_channels() -> None:
    left = np.array([100, -200, 32767, -32768], dtype="<i2")
    right = np.array([300, -200, 32767, -32767], dtype="<i2")
    stereo = np.column_stack([left, right]).reshape(-1).tobytes()
    mono = np.frombuffer(downmix_to_mono(stereo, 2), "<i2")
    assert mono.tolist() == [200, -200, 32767, -32768]


def test_downmix_mono_and_partial_frames() -> None:
    assert downmix_to_mono(b"\x01\x00\x02\x00", 1) == b"\x01\x00\x02\x00"
    # A trailing half frame (one channel of a stereo pair) is dropped.
    assert (
        downmix_to_mono(np.array([10, 20, 30], "<i2").tobytes(), 2)
        == np.array([15], "<i2").tobytes()
    )
    three = np.array([3, 6, 9, -3, -6, -9], "<i2").tobytes()
    assert np.frombuffer(downmix_to_mono(three, 3), "<i2").tolist() == [6, -6]
    with pytest.raises(ValueError):
        downmix_to_mono(b"", 0)


@pytest.mark.parametrize(("in_rate", "out_rate"), RATE_PAIRS)
@pytest.mark.parametrize("wanted", [1, 100, 960, 3000])
def test_input_needed_is_exact(in_rate: int, out_rate: int, wanted: int) -> None:
    def primed() -> StreamResampler:
        resampler = StreamResampler(in_rate, out_rate)
        resampler.feed(bytes(2 * 37))
        return resampler

    needed = primed().input_needed(wanted)
    enough = primed()
    enough.feed(bytes(2 * needed))
    assert enough.available() >= wanted
    assert enough.input_needed(wanted) == 0
    if needed:
        short = primed()
        short.feed(bytes(2 * (needed - 1)))
        assert short.available() < wanted
