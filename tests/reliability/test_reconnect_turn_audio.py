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
        mirror.on_input_audio(item_id, "QUFB")
        mirror.on_item_added(user_audio(item_id, None))
        mirror.on_item_done(user_audio(item_id, None))
    mirror.on_input_transcript("u2", 0, "hello")
    assert [i["content"] for i in mirror.restore_plan()] == [
        [{"type": "input_audio", "audio": "QUFB"}],
        [{"type": "input_text", "text": "hello"}],
    ]


def test_mirror_keeps_turn_audio_within_its_budget_newest_first():
    mirror = ConversationMirror(max_input_audio_chars=10)
    for n in range(4):
        mirror.on_input_audio(f"u{n}", "AAAA")
        mirror.on_item_done(user_audio(f"u{n}", None))
    assert [i["id"] for i in mirror.restore_plan()] == ["u2", "u3"]
    mirror.forget_input_audio()
    assert mirror.restore_plan() == []
