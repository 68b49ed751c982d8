"""Keeping spoken turns' audio for restores (pure): timeline positions and turn cuts."""

from __future__ import annotations

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.core.conversation import ConversationMirror
from pipecat_realtime_openai.core.turn_audio import InputAudioTimeline, TurnAudio

PCM = AudioFormatSpec.from_session_format({"type": "audio/pcm", "rate": 24000})
PCMU = AudioFormatSpec.from_session_format({"type": "audio/pcmu"})


def ramp(ms: int, start_ms: int = 0) -> bytes:
    """PCM whose every 2-byte sample encodes its own position, so slices are checkable."""
    first, count = start_ms * 24, ms * 24
    return b"".join((n % 65536).to_bytes(2, "little") for n in range(first, first + count))


def test_slices_are_found_by_position():
    timeline = InputAudioTimeline(PCM, keep_ms=10_000)
    for n in range(10):
        timeline.on_sent(ramp(40, n * 40))
    assert timeline.position_ms == 400
    assert timeline.slice(120, 200) == ramp(80, 120)
    assert timeline.slice(350, 900) == ramp(50, 350), "clipped to what was written"
    assert timeline.slice(200, 200) is None


def test_only_recent_audio_is_kept():
    timeline = InputAudioTimeline(PCM, keep_ms=1000)
    for n in range(100):  # 4 s
        timeline.on_sent(ramp(40, n * 40))
    assert timeline.position_ms == 4000
    assert timeline.slice(0, 100) is None, "forgotten"
    assert timeline.slice(3500, 4000) == ramp(500, 3500)


def test_format_change_forgets_old_audio_but_keeps_the_position():
    timeline = InputAudioTimeline(PCM, keep_ms=10_000)
    timeline.on_sent(ramp(100))
    timeline.retarget(PCMU)
    timeline.on_sent(bytes(800))  # 100 ms of G.711
    assert timeline.position_ms == 200
    assert timeline.slice(0, 100) is None
    assert timeline.slice(100, 200) == bytes(800)


def test_server_vad_turns_are_cut_where_the_server_says():
    turns = TurnAudio(InputAudioTimeline(PCM, keep_ms=10_000))
    turns.timeline.on_sent(ramp(1000))
    turns.on_speech_started("item_a", 200)
    assert turns.on_speech_stopped("item_a", 700) == ramp(500, 200)
    assert turns.on_committed("item_a") is None, "server VAD commits carry no extra audio"
    assert turns.on_speech_stopped("item_unknown", 900) is None


def test_manual_commits_take_the_audio_since_the_last_commit_or_clear():
    turns = TurnAudio(InputAudioTimeline(PCM, keep_ms=10_000))
    turns.timeline.on_sent(ramp(300))
    turns.on_commit_sent()
    turns.timeline.on_sent(ramp(100, 300))
    turns.on_clear_sent()
    turns.timeline.on_sent(ramp(200, 400))
    turns.on_commit_sent()
    turns.on_commit_sent()  # nothing since: the server refuses it
    assert turns.on_committed("item_1") == ramp(300)
    assert turns.on_committed("item_2") == ramp(200, 400)
    turns.on_commit_refused()
    assert turns.on_committed("item_3") is None


def test_reset_starts_a_new_timeline():
    turns = TurnAudio(InputAudioTimeline(PCM, keep_ms=10_000))
    turns.timeline.on_sent(ramp(300))
    turns.on_speech_started("item_a", 100)
    turns.reset()
    assert turns.timeline.position_ms == 0
    assert turns.on_speech_stopped("item_a", 200) is None


def user_audio(item_id: str, transcript: str | None) -> dict:
    part = {"type": "input_audio", "transcript": transcript}
    return {"id": item_id, "type": "message", "role": "user", "content": [part]}


def test_mirror_restores_untranscribed_turns_as_audio_and_transcribed_ones_as_text():
    mirror = ConversationMirror()
    for item_id in ("u1", "u2"):
        mirror.on_input_audio(item_id, b"AAA")  # kept raw; base64 only in the restore
        mirror.on_item_added(user_audio(item_id, None))
        mirror.on_item_done(user_audio(item_id, None))
    mirror.on_input_transcript("u2", 0, "hello")
    assert [i["content"] for i in mirror.restore_plan()] == [
        [{"type": "input_audio", "audio": "QUFB"}],
        [{"type": "input_text", "text": "hello"}],
    ]


def test_mirror_keeps_turn_audio_within_its_budget_newest_first():
    mirror = ConversationMirror(max_input_audio_bytes=7)
    dropped = []
    for n in range(4):
        dropped.append(mirror.on_input_audio(f"u{n}", b"\x01\x02\x03"))
        mirror.on_item_done(user_audio(f"u{n}", None))
    assert dropped == [0, 0, 1, 1]
    assert [i["id"] for i in mirror.restore_plan()] == ["u2", "u3"]
    assert mirror.input_audio_bytes == 6
    mirror.on_input_audio("u3", b"\x04")  # the same turn again replaces its audio
    assert mirror.input_audio_bytes == 4
    mirror.on_input_transcript("u2", 0, "hi")  # its text is restored instead
    mirror.on_item_deleted("u3")
    assert mirror.input_audio_bytes == 0
    mirror.on_input_audio("u4", b"\x05\x06")
    mirror.forget_input_audio()
    assert mirror.input_audio_bytes == 0
    assert [i["content"][0]["type"] for i in mirror.restore_plan()] == ["input_text"]


def _stream(turns: TurnAudio, ms: int) -> None:
    """Write ``ms`` of ramp audio in 40 ms chunks, continuing from the current position."""
    for _ in range(ms // 40):
        position = int(turns.timeline.position_ms)
        turns.timeline.on_sent(ramp(40, position))


def _manual_turns() -> TurnAudio:
    """Manual turns, 60 s per turn at most and a 2 s tail between turns."""
    turns = TurnAudio(InputAudioTimeline(PCM, keep_ms=60_000, idle_keep_ms=2_000))
    turns.set_manual(True)
    return turns


def test_between_turns_only_a_short_tail_is_kept():
    turns = TurnAudio(InputAudioTimeline(PCM, keep_ms=60_000, idle_keep_ms=2_000))
    _stream(turns, 30_000)  # 30 s of audio and no turn
    # The tail (2 s) and at most one second of trimming slack.
    assert turns.timeline.kept_bytes <= PCM.bytes_from_ms(3_000)
    assert turns.timeline.kept_bytes >= PCM.bytes_from_ms(2_000)
    # A turn whose start lies in the tail (prefix padding) is still cut whole.
    turns.on_speech_started("item_a", 29_700)
    _stream(turns, 1_000)
    assert turns.on_speech_stopped("item_a", 30_800) == ramp(1_100, 29_700)


def test_an_open_turn_is_kept_whole_up_to_the_longest_turn():
    turns = TurnAudio(InputAudioTimeline(PCM, keep_ms=20_000, idle_keep_ms=2_000))
    _stream(turns, 4_000)
    turns.on_speech_started("item_long", 3_000)
    _stream(turns, 12_000)  # a 13 s turn: far past the idle tail
    assert turns.on_speech_stopped("item_long", 16_000) == ramp(13_000, 3_000)
    _stream(turns, 10_000)
    assert turns.timeline.kept_bytes <= PCM.bytes_from_ms(3_000), "released after the turn"
    turns.on_speech_started("item_too_long", 26_000)
    _stream(turns, 30_000)
    assert turns.timeline.kept_bytes <= PCM.bytes_from_ms(21_000), "capped at keep_ms"
    assert turns.on_speech_stopped("item_too_long", 56_000) is None, "its start is gone"


def test_manual_turns_keep_the_audio_since_the_last_commit():
    turns = _manual_turns()
    turns.on_clear_sent()
    _stream(turns, 8_000)  # one 8 s manual turn, longer than the tail
    turns.on_commit_sent()
    _stream(turns, 1_000)  # the commit's answer arrives a second later
    assert turns.on_committed("item_1") == ramp(8_000)
    _stream(turns, 10_000)
    assert turns.timeline.kept_bytes >= PCM.bytes_from_ms(11_000), (
        "manual: the next turn runs from the last commit"
    )
    turns.on_clear_sent()
    _stream(turns, 2_000)
    assert turns.timeline.kept_bytes <= PCM.bytes_from_ms(5_000), "a clear starts a new turn"


def test_manual_turns_start_where_the_pipeline_hears_speech():
    turns = _manual_turns()
    _stream(turns, 1_000)
    turns.on_local_speech_started(lead_ms=400)  # at 1 s: the turn's audio from 0.6 s
    _stream(turns, 2_000)
    turns.on_commit_sent()
    assert turns.on_committed("item_1") == ramp(2_400, 600)
    _stream(turns, 10_000)  # the bot talks for 10 s, the user is silent
    assert turns.timeline.kept_bytes <= PCM.bytes_from_ms(3_000), (
        "once speech starts are reported, only the tail is kept between turns"
    )
    turns.on_local_speech_started(lead_ms=400)  # at 13 s
    turns.on_local_speech_started(lead_ms=0)  # a repeated start keeps the first
    _stream(turns, 1_000)
    turns.on_commit_sent()
    assert turns.on_committed("item_2") == ramp(1_400, 12_600)


def test_a_clear_while_the_user_speaks_starts_the_turn_at_the_clear():
    turns = _manual_turns()
    _stream(turns, 3_000)
    turns.on_local_speech_started(lead_ms=400)
    _stream(turns, 600)
    turns.on_clear_sent()  # an interruption: the server's buffer is emptied
    _stream(turns, 1_000)  # the pre-roll again, then the rest of the turn
    turns.on_commit_sent()
    assert turns.on_committed("item_1") == ramp(1_000, 3_600)


def test_a_manual_commit_without_a_reported_start_takes_the_buffer_since_the_commit():
    turns = _manual_turns()
    turns.on_local_speech_started(lead_ms=400)
    turns.on_commit_sent()
    assert turns.on_committed("item_1") is None, "no audio in that turn"
    _stream(turns, 1_600)  # within the tail: still there
    turns.on_commit_sent()
    assert turns.on_committed("item_2") == ramp(1_600)


def test_speech_open_across_a_reconnect_is_kept_from_the_new_connections_start():
    turns = _manual_turns()
    _stream(turns, 1_000)
    turns.on_local_speech_started(lead_ms=400)
    _stream(turns, 1_000)
    turns.reset()  # the socket dropped while the user was speaking
    _stream(turns, 8_000)  # longer than the tail: still the same turn
    turns.on_commit_sent()
    assert turns.on_committed("item_1") == ramp(8_000)


def test_keeping_no_turn_audio_still_counts_positions():
    # max_turn_audio_secs=0: no audio is held, yet positions advance, so a later
    # change of mind or a format switch still lines up with the server's offsets.
    turns = TurnAudio(InputAudioTimeline(PCM, keep_ms=0))
    _stream(turns, 2_000)
    turns.on_speech_started("item_a", 500)
    _stream(turns, 1_000)
    assert turns.timeline.position_ms == 3_000
    assert turns.timeline.kept_bytes == 0
    assert turns.on_speech_stopped("item_a", 2_900) is None


def test_the_session_keeps_turn_audio_as_the_reconnect_options_say():
    from pipecat_realtime_openai.core.reconnect import ReconnectOptions
    from pipecat_realtime_openai.core.session import RealtimeSession

    for secs, kept in ((60.0, True), (0.0, False)):
        options = ReconnectOptions(max_turn_audio_secs=secs)
        session = RealtimeSession({"type": "realtime"}, model="gpt-realtime", reconnect=options)
        timeline = session._turn_audio.timeline
        timeline.on_sent(ramp(1_000))
        assert (timeline.kept_bytes > 0) is kept


def test_the_session_budgets_untranscribed_turn_audio_in_the_input_format():
    from pipecat_realtime_openai.core.reconnect import ReconnectOptions
    from pipecat_realtime_openai.core.session import RealtimeSession

    options = ReconnectOptions(max_untranscribed_audio_secs=2.5)
    session = RealtimeSession({"type": "realtime"}, model="gpt-realtime", reconnect=options)
    mirror = session._conversation.mirror
    assert mirror.max_input_audio_bytes == 2.5 * PCM.bytes_per_second
    g711 = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}}
    session.session_wanted(g711, "gpt-realtime")
    assert mirror.max_input_audio_bytes == 2.5 * PCMU.bytes_per_second
