"""Frames and settings in -> inputs of the core: the translating half of the service.

:class:`FrameTranslator` routes every frame the service receives, and every settings
change, to the core (:class:`~pipecat_realtime_openai.core.session.RealtimeSession`) as a
typed input, and hands what the core answers to the executor it builds on. The input
audio hot path is here too: a frame's audio goes to the core's audio input and out on
the wire under the audio lock, with no action list. Function call outcomes are taken
on their way out (``push_frame``), where ``LLMService`` delivers them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from loguru import logger
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    FunctionCallCancelFrame,
    FunctionCallResultFrame,
    InputAudioRawFrame,
    InputImageRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMMessagesAppendFrame,
    LLMMessagesUpdateFrame,
    LLMSetToolsFrame,
    SpeechControlParamsFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipecat_realtime_openai.service.application import result_outcome
from pipecat_realtime_openai.service.context import context_messages
from pipecat_realtime_openai.service.executor import ActionExecutor
from pipecat_realtime_openai.service.input import PauseFlusher, to_data_uri
from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings, context_tools


class FrameTranslator(ActionExecutor):
    """Routes frames and settings changes to the core.

    Subclasses set, besides what :class:`ActionExecutor` needs, ``_pause`` (the input
    pause timer), ``_push_user_audio`` (the core's audio input) and
    ``_push_audio_directly`` (False when a subclass overrides ``push_frame``).
    """

    _settings: OpenAIRealtimeLLMSettings
    _pause: PauseFlusher
    _push_user_audio: Callable[[bytes, int, int], Sequence[str]]
    _push_audio_directly: bool

    # -- settings ------------------------------------------------------------------------

    def _service_tools(self) -> ToolsSchema | list[Any] | None:
        return self._app.session_properties().tools

    # Pipecat hands this service its own settings type (``Settings``), so the narrower
    # annotation holds at run time; the base classes name theirs.
    async def _update_settings(  # type: ignore[override]
        self, delta: OpenAIRealtimeLLMSettings
    ) -> dict[str, Any]:
        """Apply a settings delta and send a ``session.update`` with only what changed."""
        changed = await super()._update_settings(delta)
        if "model" in changed:
            logger.warning(
                f"{self}: the model is fixed by the connection URL; "
                f"{self._settings.model!r} applies from the next connection "
                "(e.g. after reset_conversation())."
            )
        if changed.keys() & {"session_properties", "system_instruction"}:
            await self._session_changed()
        handled = {
            "model",
            "session_properties",
            "system_instruction",
            "filter_incomplete_user_turns",
            "user_turn_completion_config",
        }
        self._warn_unhandled_updated_settings(changed.keys() - handled)
        return changed

    async def _session_changed(self) -> None:
        """The settings, the tools or the context changed: tell the core what is wanted."""
        wanted = await self._app.session()
        await self._execute(self._core.session_wanted(wanted, self._app.model))

    # -- frames in --------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Route each incoming frame to the core, then pass it on.

        Args:
            frame: The frame.
            direction: Its direction.
        """
        if isinstance(frame, InputAudioRawFrame):
            # The hot path: 50 frames a second per call. LLMService and AIService do
            # nothing with input audio (a system frame, which the speculation gate
            # passes straight on), so their dispatch layers are skipped;
            # FrameProcessor's own bookkeeping (observers) still runs on the way in
            # and out.
            await FrameProcessor.process_frame(self, frame, direction)
            await self._wire.send_input_audio(
                self._push_user_audio, frame.audio, frame.sample_rate, frame.num_channels
            )
            self._pause.on_frame()
            if self._push_audio_directly:
                await FrameProcessor.push_frame(self, frame, direction)
            else:
                await self.push_frame(frame, direction)
            return
        await super().process_frame(frame, direction)
        core = self._core
        if isinstance(frame, LLMContextFrame):
            await self._on_context(frame.context, direction)
        elif isinstance(frame, InputImageRawFrame):
            if core.video_frame_due(time.monotonic()):
                # JPEG encoding takes milliseconds: keep it off the event loop.
                uri = await asyncio.to_thread(to_data_uri, frame.image, frame.size, frame.format)
                await self._execute(core.user_image(uri))
        elif isinstance(frame, InterruptionFrame):
            await self._execute(core.interruption(time.monotonic()))
        elif isinstance(frame, UserStartedSpeakingFrame):
            await self._execute(core.user_started_speaking(time.monotonic()))
        elif isinstance(frame, UserStoppedSpeakingFrame):
            await self._execute(core.user_stopped_speaking(time.monotonic()))
        elif isinstance(frame, BotStartedSpeakingFrame):
            core.bot_started_speaking(time.monotonic())
        elif isinstance(frame, BotStoppedSpeakingFrame):
            await self._execute(core.bot_stopped_speaking(time.monotonic()))
        elif isinstance(frame, SpeechControlParamsFrame):
            if frame.vad_params is not None:
                core.set_vad_start_secs(frame.vad_params.start_secs)
        elif isinstance(frame, LLMMessagesAppendFrame):
            messages = context_messages(frame.messages)
            await self._execute(core.messages_appended(messages, bool(frame.run_llm)))
        elif isinstance(frame, LLMSetToolsFrame):
            await self._on_set_tools(frame)
        elif isinstance(frame, LLMMessagesUpdateFrame):
            await self._on_messages_update(frame, direction)
        await self.push_frame(frame, direction)

    async def _flush_input(self) -> None:
        await self._wire.send_input_audio(self._core.input_paused)

    async def _on_messages_update(
        self, frame: LLMMessagesUpdateFrame, direction: FrameDirection
    ) -> None:
        # Without a user aggregator upstream the service keeps the context itself: the
        # messages replace it, and the server conversation follows.
        context = self._app.replace_messages(frame.messages)
        await self._on_context(context, direction, run_llm=bool(frame.run_llm))

    async def _on_context(
        self, context: LLMContext, direction: FrameDirection, *, run_llm: bool | None = None
    ) -> None:
        found, wanted = await self._app.receive(context)
        core = self._core
        await self._execute(core.session_wanted(wanted, self._app.model))
        downstream = direction == FrameDirection.DOWNSTREAM
        await self._execute(core.context_changed(found, downstream=downstream, run_llm=run_llm))

    async def _on_set_tools(self, frame: LLMSetToolsFrame) -> None:
        tools = context_tools(frame.tools)
        self._app.set_tools(tools)
        # A realtime session gets no context frame per turn, so handlers sync here:
        # handlers of tools no longer advertised go.
        self._sync_registered_tool_handlers(tools)
        await self._session_changed()

    async def push_frame(
        self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM
    ) -> None:
        """Push a frame, sending function call outcomes to the server on the way out.

        ``LLMService`` broadcasts results and cancellations; the downstream copy is
        where they are delivered, once each.

        Args:
            frame: The frame.
            direction: Its direction.
        """
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, FunctionCallResultFrame):
                await self._on_function_call_result(frame)
            elif isinstance(frame, FunctionCallCancelFrame):
                await self._execute(
                    self._core.function_cancelled(
                        frame.tool_call_id, run_llm=bool(frame.run_llm), now=time.monotonic()
                    )
                )
        await super().push_frame(frame, direction)

    async def _on_function_call_result(self, frame: FunctionCallResultFrame) -> None:
        output, final, run_llm = result_outcome(frame)
        await self._execute(
            self._core.function_result(
                frame.tool_call_id, output, final=final, run_llm=run_llm, now=time.monotonic()
            )
        )
