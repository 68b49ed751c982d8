"""End-to-end turns against the simulator over a real socket."""

from pipecat.frames.frames import (
    InputAudioRawFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    ProposedUserStartedSpeakingFrame,
    ProposedUserStoppedSpeakingFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.transcriptions.language import Language

from pipecat_realtime_openai import events
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from tests.service.conftest import frames_of, make_service, silence, tone


async def test_text_turn_produces_one_audio_response(simulator, harnesses):
    service = make_service(simulator)
    harness = harnesses(service)
    await harness.start()
    context = LLMContext(messages=[{"role": "user", "content": "Hello there"}])
    await harness.send(LLMContextFrame(context=context))
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.stop()

    conn = simulator.connections[0]
    assert conn.client_event_types[:3] == [
        "session.update",
        "conversation.item.create",
        "response.create",
    ]
    down = harness.down
    assert len(down.of(LLMFullResponseStartFrame)) == 1
    assert len(down.of(TTSStartedFrame)) == 1
    assert len(down.of(TTSStoppedFrame)) == 1
    audio = down.of(TTSAudioRawFrame)
    assert audio and all(f.sample_rate == 24000 and f.num_channels == 1 for f in audio)
    spoken = "".join(f.text for f in down.of(TTSTextFrame))
    assert "Hello there" in spoken
    llm_texts = down.of(LLMTextFrame)
    assert llm_texts and all(f.append_to_context is False for f in llm_texts)
    order = [
        type(f)
        for f in down.frames
        if isinstance(
            f,
            LLMFullResponseStartFrame | TTSStartedFrame | TTSStoppedFrame | LLMFullResponseEndFrame,
        )
    ]
    assert order == [
        LLMFullResponseStartFrame,
        TTSStartedFrame,
        TTSStoppedFrame,
        LLMFullResponseEndFrame,
    ]


async def test_spoken_turn_with_server_vad(simulator, harnesses):
    simulator.transcripts.put("What's the time?")
    service = make_service(
        simulator,
        settings=OpenAIRealtimeLLMService.Settings(
            session_properties=events.SessionProperties(
                audio=events.AudioConfiguration(
                    input=events.AudioInput(
                        transcription=events.InputAudioTranscription(language="en")
                    )
                )
            )
        ),
    )
    harness = harnesses(service)
    await harness.start()
    audio = tone(600, 16000) + silence(800, 16000)
    await harness.send(
        *[
            InputAudioRawFrame(audio=a, sample_rate=16000, num_channels=1)
            for a in frames_of(audio, 16000)
        ]
    )
    await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.up.wait_for(TranscriptionFrame)
    await harness.stop()

    up = harness.up
    transcript = up.of(TranscriptionFrame)[0]
    assert transcript.text == "What's the time?"
    assert transcript.timestamp
    assert transcript.language == Language.EN
    assert up.of(ProposedUserStartedSpeakingFrame) and up.of(ProposedUserStoppedSpeakingFrame)
    assert harness.down.of(ProposedUserStartedSpeakingFrame)
    conn = simulator.connections[0]
    types = conn.client_event_types
    assert "response.create" not in types  # server VAD answers by itself
    assert types[0] == "session.update"
    assert len(harness.down.of(LLMFullResponseStartFrame)) == 1
    assert len(harness.down.of(TTSStartedFrame)) == 1
