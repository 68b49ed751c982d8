from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipecat_realtime_openai.audio.formats import PCM24K, PCMA, PCMU, AudioFormatSpec


def test_constants() -> None:
    assert (PCM24K.wire_type, PCM24K.sample_rate, PCM24K.bytes_per_sample) == (
        "audio/pcm",
        24000,
        2,
    )
    assert (PCMU.wire_type, PCMU.sample_rate, PCMU.bytes_per_sample) == ("audio/pcmu", 8000, 1)
    assert (PCMA.wire_type, PCMA.sample_rate, PCMA.bytes_per_sample) == ("audio/pcma", 8000, 1)
    assert PCM24K.bytes_per_ms == 48
    assert PCMU.bytes_per_ms == 8
    assert PCMU.is_g711 and PCMA.is_g711 and not PCM24K.is_g711


def test_spec_is_frozen() -> None:
    with pytest.raises(AttributeError):
        PCM24K.sample_rate = 16000  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ({"type": "audio/pcmu"}, PCMU),
        ({"type": "audio/pcma"}, PCMA),
        ({"type": "audio/pcm"}, PCM24K),
        ({"type": "audio/pcm", "rate": 24000}, PCM24K),
        (SimpleNamespace(type="audio/pcm", rate=24000), PCM24K),
        (SimpleNamespace(type="audio/pcmu"), PCMU),
        (SimpleNamespace(type="audio/pcma", rate=None), PCMA),
        ("audio/pcmu", PCMU),
        ("pcm16", PCM24K),
        ("g711_ulaw", PCMU),
        ("g711_alaw", PCMA),
        (PCMA, PCMA),
    ],
)
def test_from_session_format(fmt, expected) -> None:
    assert AudioFormatSpec.from_session_format(fmt) == expected


def test_from_session_format_keeps_other_pcm_rates() -> None:
    spec = AudioFormatSpec.from_session_format({"type": "audio/pcm", "rate": 16000})
    assert spec == AudioFormatSpec("audio/pcm", 16000, 2)
    assert spec.bytes_per_ms == 32


def test_from_session_format_accepts_protocol_like_models() -> None:
    class Model:
        type = "audio/pcm"
        rate = 24000

    assert AudioFormatSpec.from_session_format(Model()) == PCM24K


@pytest.mark.parametrize(
    "fmt",
    [
        {},
        {"type": "audio/opus"},
        {"type": "audio/pcm", "rate": 0},
        {"type": "audio/pcm", "rate": -8000},
        {"type": "audio/pcm", "rate": "24000"},
        {"type": "audio/pcm", "rate": 22050.5},
        SimpleNamespace(),
        None,
    ],
)
def test_from_session_format_rejects_bad_input(fmt) -> None:
    with pytest.raises(ValueError):
        AudioFormatSpec.from_session_format(fmt)


def test_to_session_format_round_trips() -> None:
    for spec in (PCM24K, PCMU, PCMA):
        assert AudioFormatSpec.from_session_format(spec.to_session_format()) == spec
    assert PCM24K.to_session_format() == {"type": "audio/pcm", "rate": 24000}
    assert PCMU.to_session_format() == {"type": "audio/pcmu"}


def test_ms_from_bytes_floors() -> None:
    assert PCM24K.ms_from_bytes(47) == 0
    assert PCM24K.ms_from_bytes(48) == 1
    assert PCM24K.ms_from_bytes(95) == 1
    assert PCM24K.ms_from_bytes(48 * 2450 - 1) == 2449
    assert PCMU.ms_from_bytes(7) == 0
    assert PCMU.ms_from_bytes(8000) == 1000
    assert PCMU.ms_from_bytes(0) == 0
    assert PCMU.ms_from_bytes(-5) == 0


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from([PCM24K, PCMU, PCMA]))
def test_ms_from_bytes_never_rounds_up(n: int, spec: AudioFormatSpec) -> None:
    ms = spec.ms_from_bytes(n)
    assert spec.bytes_from_ms(ms) <= n
    assert spec.bytes_from_ms(ms + 1) > n


def test_bytes_from_ms() -> None:
    assert PCM24K.bytes_from_ms(20) == 960
    assert PCMU.bytes_from_ms(20) == 160
    assert PCMA.bytes_from_ms(0) == 0
    assert PCMA.bytes_from_ms(-3) == 0
    # Fractions of a sample are dropped so the result stays sample aligned.
    assert PCM24K.bytes_from_ms(0.05) == 2
    assert AudioFormatSpec("audio/pcm", 44100, 2).bytes_from_ms(1) == 88


def test_invalid_spec_rejected() -> None:
    with pytest.raises(ValueError):
        AudioFormatSpec("audio/pcm", 0, 2)
    with pytest.raises(ValueError):
        AudioFormatSpec("audio/pcm", 24000, 3)
