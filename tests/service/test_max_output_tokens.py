"""A reply cut off by max_output_tokens: frames stay balanced, the bot keeps going."""

from __future__ import annotations

import base64

from pipecat.frames.frames import (
    ErrorFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai import events
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import Reply, ScriptedResponder
from tests.reliability.test_reconnect_support import WarningCapture
from tests.service.conftest import make_service

# 20 output tokens: one second of audio (the simulator counts 20 audio tokens a second).
SHORT = OpenAIRealtimeLLMService.Settings(
    session_properties=events.SessionProperties(
        max_output_tokens=20,
        audio=events.AudioConfiguration(input=events.AudioInput(turn_detection=False)),
    )
)
LONG_REPLY = "This answer goes on and on for far longer than one second of speech."


async def test_cut_off_reply_is_closed_and_the_next_turn_is_answered(simulator, harnesses):
    simulator.responder = ScriptedResponder([Reply(text=LONG_REPLY), Reply(text="Ok.")])
    service = make_service(simulator, settings=SHORT)
    harness = harnesses(service)
    await harness.start()
    conn = await simulator.wait_for_connection()
    await conn.wait_for_server_event("session.updated")
    with WarningCapture() as warnings:
        await harness.send(LLMContextFrame(LLMContext(messages=[{"role": "user", "content": "?"}])))
        done = await conn.wait_for_server_event("response.done")
        await harness.down.wait_for(LLMFullResponseEndFrame)
    await harness.send(
        LLMMessagesAppendFrame(messages=[{"role": "user", "content": "Go on"}], run_llm=True)
    )
    await harness.down.wait_for(LLMFullResponseEndFrame, count=2)
    await harness.stop()

    assert done["response"]["status"] == "incomplete"
    assert done["response"]["status_details"]["reason"] == "max_output_tokens"
    # The audio that came is played, and no more than the server sent.
    sent = sum(
        len(base64.b64decode(e["delta"]))
        for e in conn.server_events
        if e.get("type") == "response.output_audio.delta"
        and e.get("response_id") == done["response"]["id"]
    )
    down = harness.down
    first_stop = down.frames.index(down.of(TTSStoppedFrame)[0])
    played = sum(len(f.audio) for f in down.frames[:first_stop] if isinstance(f, TTSAudioRawFrame))
    assert 0 < sent <= 1000 * 48 and played == sent
    assert len(down.of(LLMFullResponseStartFrame)) == len(down.of(LLMFullResponseEndFrame)) == 2
    assert len(down.of(TTSStartedFrame)) == len(down.of(TTSStoppedFrame)) == 2
    assert not harness.up.of(ErrorFrame)
    assert any("ended early: max_output_tokens" in m for m in warnings.messages)
