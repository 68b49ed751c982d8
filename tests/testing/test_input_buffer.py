from pipecat_realtime_openai.audio.formats import PCM24K, PCMU
from pipecat_realtime_openai.testing.input_buffer import InputAudioBuffer


def test_pcm_duration_is_48_bytes_per_ms_and_commit_needs_100ms():
    buffer = InputAudioBuffer(PCM24K)
    buffer.append(b"\x00" * (48 * 99))
    assert buffer.duration_ms == 99
    assert not buffer.can_commit()
    buffer.append(b"\x00" * 48)
    assert buffer.can_commit()


def test_g711_duration_is_8_bytes_per_ms():
    buffer = InputAudioBuffer(PCMU)
    buffer.append(b"\xff" * 800)
    assert buffer.duration_ms == 100 and buffer.can_commit()


def test_take_until_moves_the_session_timeline():
    buffer = InputAudioBuffer(PCM24K)
    buffer.append(b"\x01\x00" * 24000)  # 1 s
    head = buffer.take(250)
    assert len(head) == 250 * 48
    assert buffer.start_ms == 250 and buffer.end_ms == 1000
    rest = buffer.take()
    assert len(rest) == 750 * 48 and buffer.duration_ms == 0 and buffer.start_ms == 1000


def test_clear_keeps_time_and_format_switch_drops_old_audio():
    buffer = InputAudioBuffer(PCM24K)
    buffer.append(b"\x00" * 4800)
    buffer.clear()
    assert buffer.duration_ms == 0 and buffer.start_ms == 100
    buffer.append(b"\x00" * 4800)
    buffer.set_format(PCMU)
    assert buffer.duration_ms == 0 and buffer.start_ms == 200 and buffer.spec == PCMU
