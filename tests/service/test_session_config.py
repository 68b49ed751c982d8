"""Session configuration decisions (pure): first update, diffs, dropped fields, formats."""

from pipecat_realtime_openai.core.session_config import (
    SessionConfigState,
    accepts_reasoning,
    input_format,
    output_format,
    response_modalities,
    session_wire_dict,
    transcription_language,
    turn_detection_disabled,
    without_unsupported_fields,
)
from pipecat_realtime_openai.protocol.session import (
    AudioConfiguration,
    AudioInput,
    AudioOutput,
    InputAudioTranscription,
    PCMAAudioFormat,
    PCMUAudioFormat,
    Reasoning,
    SessionProperties,
)


def wire(**kwargs) -> dict:
    return session_wire_dict(SessionProperties(**kwargs))


def test_first_update_is_the_whole_configuration_then_only_changes():
    state = SessionConfigState()
    desired = wire(instructions="a", output_modalities=["audio"])
    first = state.plan(desired, "gpt-realtime")
    assert first.session == desired
    state.on_sent(first.session)
    assert state.plan(desired, "gpt-realtime").session is None
    changed = wire(instructions="b", output_modalities=["audio"])
    assert state.plan(changed, "gpt-realtime").session == {"type": "realtime", "instructions": "b"}


def test_voice_is_dropped_with_a_warning_after_audio():
    state = SessionConfigState()
    base = wire(audio=AudioConfiguration(output=AudioOutput(voice="alloy")))
    state.on_sent(state.plan(base, "m").session)
    state.mark_audio_produced()
    plan = state.plan(
        wire(instructions="x", audio=AudioConfiguration(output=AudioOutput(voice="marin"))), "m"
    )
    assert plan.session == {"type": "realtime", "instructions": "x"}
    assert any("voice" in w for w in plan.warnings)
    state.reset()
    assert not state.audio_produced and state.sent is None


def test_merged_record_keeps_unrelated_keys():
    state = SessionConfigState()
    state.on_sent(wire(audio=AudioConfiguration(output=AudioOutput(voice="alloy", speed=1.0))))
    state.on_sent({"type": "realtime", "audio": {"output": {"voice": "marin"}}})
    assert state.sent["audio"]["output"] == {"voice": "marin", "speed": 1.0}


def test_reasoning_only_for_reasoning_models():
    session = wire(reasoning=Reasoning(effort="low"))
    kept, warnings = without_unsupported_fields(session, "gpt-realtime-2.1")
    assert kept["reasoning"] == {"effort": "low"} and not warnings
    dropped, warnings = without_unsupported_fields(session, "gpt-realtime")
    assert "reasoning" not in dropped and warnings
    assert session["reasoning"] == {"effort": "low"}, "the input is not modified"
    assert accepts_reasoning("gpt-realtime-2-2026-01-01") and not accepts_reasoning(None)


def test_whisper_prompt_is_dropped():
    session = wire(
        audio=AudioConfiguration(
            input=AudioInput(transcription=InputAudioTranscription(prompt="names: Ada"))
        )
    )
    cleaned, warnings = without_unsupported_fields(session, "gpt-realtime")
    assert "prompt" not in cleaned["audio"]["input"]["transcription"] and warnings
    other = wire(
        audio=AudioConfiguration(
            input=AudioInput(
                transcription=InputAudioTranscription(model="gpt-4o-transcribe", prompt="p")
            )
        )
    )
    assert without_unsupported_fields(other, "m")[0] == other


def test_turn_modes_formats_modalities_language():
    manual = SessionProperties(audio=AudioConfiguration(input=AudioInput(turn_detection=False)))
    assert turn_detection_disabled(manual)
    assert not turn_detection_disabled(SessionProperties())
    g711 = SessionProperties(
        audio=AudioConfiguration(
            input=AudioInput(
                format=PCMUAudioFormat(), transcription=InputAudioTranscription(language="de")
            ),
            output=AudioOutput(format=PCMAAudioFormat()),
        )
    )
    assert input_format(g711).wire_type == "audio/pcmu" and input_format(g711).sample_rate == 8000
    assert output_format(g711).wire_type == "audio/pcma"
    assert output_format(SessionProperties()).sample_rate == 24000
    assert transcription_language(g711) == "de"
    assert transcription_language(SessionProperties()) is None
    assert response_modalities(SessionProperties()) == ["audio"]
    assert response_modalities(SessionProperties(output_modalities=["text"])) == ["text"]
    assert response_modalities(SessionProperties(output_modalities=["audio", "text"])) == ["audio"]


def test_effective_session_keeps_what_the_server_holds():
    manual = SessionProperties(audio=AudioConfiguration(input=AudioInput(turn_detection=False)))
    state = SessionConfigState()
    assert state.effective(manual) is manual
    state.on_sent(state.plan(session_wire_dict(manual), "m").session)
    # A wholesale settings update that only names the voice.
    voice_only = SessionProperties(audio=AudioConfiguration(output=AudioOutput(voice="marin")))
    plan = state.plan(session_wire_dict(voice_only), "m")
    assert plan.session == {"type": "realtime", "audio": {"output": {"voice": "marin"}}}
    state.on_sent(plan.session)
    effective = state.effective(voice_only)
    assert turn_detection_disabled(effective), "the server still has turn detection off"
    assert effective.audio.output.voice == "marin"
