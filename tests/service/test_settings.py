"""Settings: both-way sync, apply_update, from_mapping routing, Pipecat models, diffs."""

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.services.openai.realtime import events as pipecat_events
from pipecat.utils.types import NOT_GIVEN

from pipecat_realtime_openai.core.session_config import session_diff, session_wire_dict
from pipecat_realtime_openai.protocol.session import (
    AudioConfiguration,
    AudioInput,
    AudioOutput,
    SessionProperties,
)
from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings, to_session_properties

WEATHER = FunctionSchema(
    name="get_weather",
    description="Weather for a city.",
    properties={"city": {"type": "string"}},
    required=["city"],
)


def store() -> OpenAIRealtimeLLMSettings:
    settings = OpenAIRealtimeLLMSettings.defaults()
    settings.sync_top_level_to_session()
    return settings


def test_defaults_are_complete_and_synced():
    settings = store()
    assert settings.model == "gpt-realtime-2.1"
    assert settings.session_properties.model == "gpt-realtime-2.1"
    settings.validate_complete()  # logs only; check the invariant ourselves too
    assert all(v is not NOT_GIVEN for v in settings.given_fields().values())


def test_top_level_instruction_flows_into_session():
    settings = store()
    changed = settings.apply_update(OpenAIRealtimeLLMSettings(system_instruction="Be brief."))
    assert changed == {"system_instruction": None}
    assert settings.session_properties.instructions == "Be brief."


def test_session_instructions_and_model_flow_to_top_level():
    settings = store()
    delta = OpenAIRealtimeLLMSettings(
        session_properties=SessionProperties(instructions="Hi there.", model="gpt-realtime")
    )
    changed = settings.apply_update(delta)
    assert settings.system_instruction == "Hi there."
    assert settings.model == "gpt-realtime"
    assert set(changed) == {"session_properties", "system_instruction", "model"}
    assert changed["model"] == "gpt-realtime-2.1"


def test_top_level_wins_over_conflicting_session_value():
    settings = store()
    delta = OpenAIRealtimeLLMSettings(
        system_instruction="top",
        session_properties=SessionProperties(instructions="nested"),
    )
    settings.apply_update(delta)
    assert settings.system_instruction == "top"
    assert settings.session_properties.instructions == "top"


def test_apply_update_reports_only_changed_keys():
    settings = store()
    assert settings.apply_update(OpenAIRealtimeLLMSettings(model="gpt-realtime-2.1")) == {}
    changed = settings.apply_update(OpenAIRealtimeLLMSettings(temperature=0.3))
    assert changed == {"temperature": None}


def test_session_properties_replaced_wholesale():
    settings = store()
    settings.apply_update(
        OpenAIRealtimeLLMSettings(session_properties=SessionProperties(output_modalities=["text"]))
    )
    settings.apply_update(
        OpenAIRealtimeLLMSettings(session_properties=SessionProperties(max_output_tokens=100))
    )
    assert settings.session_properties.output_modalities is None
    assert settings.session_properties.max_output_tokens == 100
    # The model was re-synced into the new object.
    assert settings.session_properties.model == "gpt-realtime-2.1"


def test_from_mapping_routes_session_keys():
    delta = OpenAIRealtimeLLMSettings.from_mapping(
        {"model": "m", "instructions": "x", "output_modalities": ["text"], "unknown": 1}
    )
    assert delta.model == "m"
    assert delta.session_properties.instructions == "x"
    assert delta.session_properties.output_modalities == ["text"]
    assert delta.extra == {"unknown": 1}
    assert delta.system_instruction is NOT_GIVEN


def test_from_mapping_instructions_reach_system_instruction_after_apply():
    settings = store()
    settings.apply_update(OpenAIRealtimeLLMSettings.from_mapping({"instructions": "Speak."}))
    assert settings.system_instruction == "Speak."


def test_pipecat_session_properties_are_converted():
    pipecat_sp = pipecat_events.SessionProperties(
        instructions="hello",
        output_modalities=["audio"],
        audio=pipecat_events.AudioConfiguration(
            input=pipecat_events.AudioInput(
                format=pipecat_events.PCMUAudioFormat(),
                turn_detection=False,
                transcription=pipecat_events.InputAudioTranscription(language="fr"),
            ),
            output=pipecat_events.AudioOutput(voice="marin"),
        ),
        tools=[WEATHER],
    )
    settings = OpenAIRealtimeLLMSettings(session_properties=pipecat_sp)
    sp = settings.session_properties
    assert isinstance(sp, SessionProperties)
    assert sp.audio.input.format.type == "audio/pcmu"
    assert sp.audio.input.turn_detection is False
    assert sp.audio.input.transcription.language == "fr"
    assert sp.audio.output.voice == "marin"
    assert isinstance(sp.tools, ToolsSchema)
    assert sp.tools.standard_tools[0].name == "get_weather"
    wire = session_wire_dict(sp)
    assert wire["audio"]["input"]["turn_detection"] is None
    assert "tools" not in wire


def test_pipecat_session_properties_accepted_in_delta():
    settings = store()
    changed = settings.apply_update(
        OpenAIRealtimeLLMSettings(
            session_properties=pipecat_events.SessionProperties(instructions="converted")
        )
    )
    assert isinstance(settings.session_properties, SessionProperties)
    assert settings.system_instruction == "converted"
    assert "session_properties" in changed


def test_plain_tool_list_becomes_tools_schema():
    sp = to_session_properties({"tools": [WEATHER]})
    assert isinstance(sp.tools, ToolsSchema)
    native = [{"type": "function", "name": "x", "parameters": {}}]
    assert to_session_properties({"tools": native}).tools == native


def test_wire_dict_drops_server_only_fields_and_model():
    sp = SessionProperties(id="sess_1", model="m", expires_at=5, instructions="i")
    assert session_wire_dict(sp) == {"type": "realtime", "instructions": "i"}


def test_session_diff_only_changed_keys():
    before = session_wire_dict(
        SessionProperties(
            instructions="a",
            audio=AudioConfiguration(
                input=AudioInput(turn_detection=False), output=AudioOutput(voice="alloy")
            ),
        )
    )
    after = session_wire_dict(
        SessionProperties(
            instructions="a",
            audio=AudioConfiguration(
                input=AudioInput(turn_detection=False), output=AudioOutput(voice="marin")
            ),
        )
    )
    assert session_diff(before, after) == {"audio": {"output": {"voice": "marin"}}}
    assert session_diff(after, after) == {}


def test_session_diff_replaces_atomic_objects_whole():
    before = {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 0.5}}}}
    after = {"audio": {"input": {"turn_detection": {"type": "semantic_vad", "threshold": 0.5}}}}
    assert session_diff(before, after) == after
    off = {"audio": {"input": {"turn_detection": None}}}
    assert session_diff(before, off) == off
