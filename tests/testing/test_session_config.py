from pipecat_realtime_openai.testing.session_config import apply_session_update, default_session


def session():
    return default_session("gpt-realtime", "sess_1", now=1000)


def test_default_session_has_the_recorded_real_defaults():
    s = session()
    assert s["model"] == "gpt-realtime"
    assert s["expires_at"] == 1000 + 3600
    assert s["output_modalities"] == ["audio"]
    td = s["audio"]["input"]["turn_detection"]
    assert (td["type"], td["threshold"], td["prefix_padding_ms"], td["silence_duration_ms"]) == (
        "server_vad",
        0.5,
        300,
        200,
    )
    assert td["create_response"] is True and td["interrupt_response"] is True
    assert s["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert s["audio"]["output"]["voice"] == "alloy"


def test_update_deep_merges_and_keeps_untouched_fields():
    s, error = apply_session_update(
        session(),
        {"type": "realtime", "instructions": "Be brief.", "audio": {"output": {"speed": 1.2}}},
        assistant_audio_present=False,
    )
    assert error is None
    assert s["instructions"] == "Be brief."
    assert s["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "alloy",
        "speed": 1.2,
    }
    assert s["audio"]["input"]["turn_detection"]["threshold"] == 0.5


def test_update_of_turn_detection_keeps_current_knobs_of_same_type():
    s, _ = apply_session_update(
        session(),
        {
            "audio": {
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}
            }
        },
        assistant_audio_present=False,
    )
    td = s["audio"]["input"]["turn_detection"]
    assert td["silence_duration_ms"] == 500 and td["prefix_padding_ms"] == 300


def test_switching_to_semantic_vad_starts_from_its_defaults_and_null_turns_vad_off():
    s, _ = apply_session_update(
        session(),
        {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}},
        assistant_audio_present=False,
    )
    assert s["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": True,
    }
    s, _ = apply_session_update(
        s, {"audio": {"input": {"turn_detection": None}}}, assistant_audio_present=False
    )
    assert s["audio"]["input"]["turn_detection"] is None


def test_format_is_replaced_not_merged_and_transcription_gets_defaults():
    s, _ = apply_session_update(
        session(),
        {
            "audio": {
                "input": {"format": {"type": "audio/pcmu"}, "transcription": {"model": "whisper-1"}}
            }
        },
        assistant_audio_present=False,
    )
    assert s["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert s["audio"]["input"]["transcription"] == {
        "model": "whisper-1",
        "language": None,
        "prompt": None,
    }


def test_pcm_at_16khz_is_refused_and_session_unchanged():
    before = session()
    s, error = apply_session_update(
        before,
        {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
        assistant_audio_present=False,
    )
    assert error is not None and error.code == "invalid_value"
    assert error.param == "session.audio.input.format.rate"
    assert s is before


def test_unknown_voice_and_voice_change_after_audio_are_refused():
    _, error = apply_session_update(
        session(), {"audio": {"output": {"voice": "bogus"}}}, assistant_audio_present=False
    )
    assert error is not None and error.param == "session.audio.output.voice"
    _, error = apply_session_update(
        session(), {"audio": {"output": {"voice": "marin"}}}, assistant_audio_present=True
    )
    assert error is not None and error.code == "cannot_update_voice"
    s, error = apply_session_update(
        session(), {"audio": {"output": {"voice": "alloy"}}}, assistant_audio_present=True
    )
    assert error is None  # same voice is not a change
    s, error = apply_session_update(
        session(), {"audio": {"output": {"voice": "marin"}}}, assistant_audio_present=False
    )
    assert error is None and s["audio"]["output"]["voice"] == "marin"


def test_model_and_identity_cannot_be_changed_by_update():
    s, _ = apply_session_update(
        session(), {"model": "other", "id": "sess_x"}, assistant_audio_present=False
    )
    assert s["model"] == "gpt-realtime" and s["id"] == "sess_1"
