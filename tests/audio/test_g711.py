import warnings

import numpy as np
import pytest

from pipecat_realtime_openai.audio import g711

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_PCM = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))


def test_ulaw_encode_matches_audioop_for_every_sample() -> None:
    assert g711.pcm16_to_ulaw(ALL_PCM) == audioop.lin2ulaw(ALL_PCM, 2)


def test_alaw_encode_matches_audioop_for_every_sample() -> None:
    assert g711.pcm16_to_alaw(ALL_PCM) == audioop.lin2alaw(ALL_PCM, 2)


def test_ulaw_decode_matches_audioop_for_every_code() -> None:
    assert g711.ulaw_to_pcm16(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_decode_matches_audioop_for_every_code() -> None:
    assert g711.alaw_to_pcm16(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


@pytest.mark.parametrize(
    ("encode", "decode"),
    [(g711.pcm16_to_ulaw, g711.ulaw_to_pcm16), (g711.pcm16_to_alaw, g711.alaw_to_pcm16)],
)
def test_decoded_codes_reencode_to_themselves(encode, decode) -> None:
    # Each code's decoded value must sit in that code's own quantisation interval.
    reencoded = encode(decode(ALL_CODES))
    mismatches = {code for code, again in zip(ALL_CODES, reencoded, strict=True) if code != again}
    # Mu-law has a "negative zero" (0x7F) that decodes to 0, which encodes as 0xFF.
    assert mismatches <= {0x7F}


@pytest.mark.parametrize(
    ("encode", "decode"),
    [(g711.pcm16_to_ulaw, g711.ulaw_to_pcm16), (g711.pcm16_to_alaw, g711.alaw_to_pcm16)],
)
def test_round_trip_error_is_within_companding_step(encode, decode) -> None:
    original = np.arange(-32768, 32768, 7, dtype=np.int32)
    pcm = original.astype("<i2").tobytes()
    restored = np.frombuffer(decode(encode(pcm)), dtype="<i2").astype(np.int32)
    # G.711 keeps about 4 significant bits plus the segment: error under 1/16 of the value
    # plus the smallest step.
    assert np.all(np.abs(restored - original) <= np.abs(original) / 16 + 16)


def test_lengths_and_accepted_buffer_types() -> None:
    pcm = np.array([0, 1000, -1000], dtype="<i2").tobytes()
    assert len(g711.pcm16_to_ulaw(pcm)) == 3
    assert g711.pcm16_to_ulaw(memoryview(pcm)) == g711.pcm16_to_ulaw(bytearray(pcm))
    assert len(g711.alaw_to_pcm16(b"\x00\x01")) == 4
    assert g711.pcm16_to_alaw(b"") == b""
    assert g711.ulaw_to_pcm16(b"") == b""


def test_odd_length_pcm_is_rejected() -> None:
    with pytest.raises(ValueError, match="even"):
        g711.pcm16_to_ulaw(b"\x00\x00\x00")
