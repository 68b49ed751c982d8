"""Mid-session changes: settings, tools, appended messages, text-only mode, video."""

from __future__ import annotations

import asyncio
import base64

import pytest
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import (
    InputImageRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMMessagesAppendFrame,
    LLMSetToolsFrame,
    LLMTextFrame,
    LLMUpdateSettingsFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai import events
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from tests.service.conftest import make_service

Settings = OpenAIRealtimeLLMService.Settings


async def started(simulator, harnesses, **kwargs):
    service = make_service(simulator, **kwargs)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    return service, harness, conn


def session_updates(conn) -> list[dict]:
    return [e["session"] for e in conn.client_events if e.get("type") == "session.update"]


async def test_instruction_update_sends_only_the_instructions(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses)
    await harness.send(LLMUpdateSettingsFrame(delta=Settings(system_instruction="Be terse.")))
    await conn.wait_for_client_event("session.update", count=2)
    await harness.stop()
    assert session_updates(conn)[1] == {"type": "realtime", "instructions": "Be terse."}
    assert conn.session["instructions"] == "Be terse."


async def test_voice_update_sends_only_the_voice_and_not_after_audio(simulator, harnesses):
    service, harness, conn = await started(simulator, harnesses)
    voice = Settings(
        session_properties=events.SessionProperties(
            audio=events.AudioConfiguration(output=events.AudioOutput(voice="marin"))
        )
    )
    await harness.send(LLMUpdateSettingsFrame(delta=voice))
    await conn.wait_for_client_event("session.update", count=2)
    assert session_updates(conn)[1] == {"type": "realtime", "audio": {"output": {"voice": "marin"}}}
    await harness.send(
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "Hi"}]))
    )
    await harness.down.wait_for(LLMFullResponseEndFrame)
    cedar = Settings(
        session_properties=events.SessionProperties(
            audio=events.AudioConfiguration(output=events.AudioOutput(voice="cedar"))
        )
    )
    await harness.send(LLMUpdateSettingsFrame(delta=cedar))
    await asyncio.sleep(0.1)
    await harness.stop()
    assert len(session_updates(conn)) == 2, "the voice cannot change after audio"
    assert service.settings.session_properties.audio.output.voice == "cedar"


@pytest.mark.filterwarnings("ignore:.*LLMUpdateSettingsFrame:DeprecationWarning")
async def test_legacy_dict_update_is_routed_into_the_session(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses)
    await harness.send(LLMUpdateSettingsFrame(settings={"max_output_tokens": 200}))
    await conn.wait_for_client_event("session.update", count=2)
    await harness.stop()
    assert session_updates(conn)[1] == {"type": "realtime", "max_output_tokens": 200}


async def test_set_tools_updates_the_session_tools(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses)
    tool = FunctionSchema(
        name="lookup",
        description="Look up a word.",
        properties={"w": {"type": "string"}},
        required=["w"],
    )
    await harness.send(LLMSetToolsFrame(tools=[tool]))
    await conn.wait_for_client_event("session.update", count=2)
    await harness.stop()
    update = session_updates(conn)[1]
    assert set(update) == {"type", "tools"}
    assert [t["name"] for t in update["tools"]] == ["lookup"]


async def test_messages_append_adds_items_and_runs_when_asked(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses)
    await harness.send(
        LLMMessagesAppendFrame(
            messages=[{"role": "system", "content": "Note: be kind."}], run_llm=False
        )
    )
    await harness.send(
        LLMMessagesAppendFrame(
            messages=[{"role": "user", "content": "What is two plus two?"}], run_llm=True
        )
    )
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    creates = [e["item"] for e in conn.client_events if e.get("type") == "conversation.item.create"]
    assert [(i["role"], i["content"][0]["text"]) for i in creates] == [
        ("system", "Note: be kind."),
        ("user", "What is two plus two?"),
    ]
    assert conn.client_event_types.count("response.create") == 1
    assert conn.client_event_types.index("response.create") > conn.client_event_types.index(
        "conversation.item.create"
    )


async def test_text_only_mode_streams_llm_text(simulator, harnesses):
    settings = Settings(session_properties=events.SessionProperties(output_modalities=["text"]))
    _, harness, conn = await started(simulator, harnesses, settings=settings)
    await harness.send(
        LLMContextFrame(context=LLMContext(messages=[{"role": "user", "content": "Ping"}]))
    )
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()
    assert session_updates(conn)[0]["output_modalities"] == ["text"]
    texts = harness.down.of(LLMTextFrame)
    assert "Ping" in "".join(f.text for f in texts)
    assert all(f.append_to_context for f in texts)
    assert not harness.down.of(TTSStartedFrame) and not harness.down.of(TTSAudioRawFrame)


def image_frame() -> InputImageRawFrame:
    return InputImageRawFrame(image=bytes([200, 30, 30]) * 64 * 48, size=(64, 48), format="RGB")


async def test_video_frames_are_rate_limited_jpeg_items(simulator, harnesses):
    service, harness, conn = await started(simulator, harnesses, video_frame_detail="high")
    await harness.send(image_frame(), image_frame(), image_frame())
    await conn.wait_for_client_event("conversation.item.create")
    service.set_video_frame_detail("low")
    service.set_video_input_paused(True)
    await harness.send(image_frame())
    await asyncio.sleep(0.1)
    await harness.stop()
    creates = [e["item"] for e in conn.client_events if e.get("type") == "conversation.item.create"]
    assert len(creates) == 1
    part = creates[0]["content"][0]
    assert creates[0]["role"] == "user" and part["type"] == "input_image"
    assert part["detail"] == "high"
    prefix = "data:image/jpeg;base64,"
    assert part["image_url"].startswith(prefix)
    assert base64.b64decode(part["image_url"][len(prefix) :])[:2] == b"\xff\xd8"


async def test_video_fps_option_allows_more_frames(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses, video_max_fps=1000.0)
    for _ in range(3):
        await harness.send(image_frame())
        await asyncio.sleep(0.01)
    await conn.wait_for_client_event("conversation.item.create", count=3)
    await harness.stop()


async def test_instructions_carried_by_a_later_context_frame_reach_the_server(simulator, harnesses):
    _, harness, conn = await started(simulator, harnesses)
    context = LLMContext(
        messages=[
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Hi"},
        ]
    )
    await harness.send(LLMContextFrame(context=context))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    assert conn.session["instructions"] == "Answer in French."
    # The application rewrites its system message (a Pipecat Flows node would).
    context.set_messages(
        [{"role": "system", "content": "Answer in German."}, *context.get_messages()[1:]]
    )
    await harness.send(LLMContextFrame(context=context))
    await conn.wait_for_client_event("session.update", count=3)
    await harness.stop()
    assert session_updates(conn)[-1] == {"type": "realtime", "instructions": "Answer in German."}
    assert conn.session["instructions"] == "Answer in German."
