import numpy as np
import pytest

from pipecat_realtime_openai.audio.formats import PCM24K, PCMA, PCMU
from pipecat_realtime_openai.audio.g711 import alaw_to_pcm16
from pipecat_realtime_openai.testing.synth import MIN_REPLY_MS, MS_PER_CHAR, speak, tokenize


def test_tokens_look_like_real_deltas():
    assert tokenize("Hi there!") == ["Hi", " there", "!"]
    assert "".join(tokenize("It is 12 degrees, foggy.")) == "It is 12 degrees, foggy."


@pytest.mark.parametrize(("spec", "bytes_per_ms"), [(PCM24K, 48), (PCMU, 8), (PCMA, 8)])
def test_duration_follows_text_in_every_format(spec, bytes_per_ms):
    spoken = speak("Hello world", spec)
    assert spoken.duration_ms == 11 * MS_PER_CHAR
    assert len(spoken.audio) == 11 * MS_PER_CHAR * bytes_per_ms


def test_speed_shortens_and_short_texts_have_a_floor():
    assert speak("Hello world", PCM24K, speed=2.0).duration_ms == 11 * MS_PER_CHAR / 2
    assert speak("a", PCM24K).duration_ms == MIN_REPLY_MS


def test_audio_is_loud_in_words_and_silent_in_spaces():
    spoken = speak("ab  cd", PCMA)
    pcm = np.frombuffer(alaw_to_pcm16(spoken.audio), dtype="<i2").astype(float)
    per_char = len(pcm) // 6
    rms = [np.sqrt(np.mean(pcm[i * per_char : (i + 1) * per_char] ** 2)) for i in range(6)]
    assert min(rms[0], rms[1], rms[4], rms[5]) > 1000
    assert max(rms[2], rms[3]) < 50
    assert spoken.token_start_ms == [0, 2 * MS_PER_CHAR]
