"""Answers on the side: ``create_response`` and Pipecat's ``run_inference``.

Out-of-band responses (``conversation: "none"``) answer a question next to the bot's
turns without entering the conversation or the Pipecat context. The core decides what
goes out and what each produced (:mod:`pipecat_realtime_openai.core.out_of_band`);
this mixin turns the caller's input and tools into the core's and waits for the
answer (:mod:`pipecat_realtime_openai.service.out_of_band`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loguru import logger
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.processors.aggregators.llm_context import LLMContext

from pipecat_realtime_openai.core.out_of_band import OutOfBandResponse
from pipecat_realtime_openai.protocol.session import ToolChoice
from pipecat_realtime_openai.service.out_of_band import (
    response_input,
    wait_for_response,
    wire_tools,
)
from pipecat_realtime_openai.service.translator import FrameTranslator


class SideAnswers(FrameTranslator):
    """``create_response`` and ``run_inference`` of the Realtime service."""

    async def run_inference(
        self,
        context: LLMContext,
        max_tokens: int | None = None,
        system_instruction: str | None = None,
        response_schema: dict[str, Any] | None = None,
    ) -> str | None:
        """Answer a context once, out of band: the conversation and the bot's turn stay as they are.

        Pipecat's ``LLMService.run_inference``: a :meth:`create_response` with the
        context's messages as its input, text out and no tools. Pipecat Flows uses it
        for the summary of ``RESET_WITH_SUMMARY``.

        Args:
            context: What to answer (its messages; not the conversation's).
            max_tokens: The answer's token limit.
            system_instruction: Instructions for this answer only (the session's
                otherwise).
            response_schema: Not supported by the Realtime API; ignored with a warning.

        Returns:
            The answer's text (the transcript of its audio on a server that answers
            in audio whatever is asked, as Azure does).

        Raises:
            OutOfBandResponseError: The server refused or failed it, or the connection
                closed first (a ``RuntimeError``).
        """
        if response_schema is not None:
            logger.warning(f"{self}: the Realtime API takes no response schema; it is ignored")
        response = await self.create_response(
            context.get_messages(),
            instructions=system_instruction,
            max_output_tokens=max_tokens,
            tool_choice="none",
        )
        return response.text or response.audio_transcript

    async def create_response(
        self,
        input: Sequence[Any] | None = None,
        *,
        instructions: str | None = None,
        tools: ToolsSchema | Sequence[Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice | None = None,
        output_modalities: Sequence[str] | None = ("text",),
        metadata: Mapping[str, str] | None = None,
        conversation: str = "none",
        max_output_tokens: int | str | None = None,
        voice: str | Mapping[str, Any] | None = None,
        # The brief of this API: one call, one deadline (asyncio.timeout around it
        # would not cancel the response on the server).
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> OutOfBandResponse:
        """Ask for one response out of band and wait for it.

        A ``response.create`` with ``conversation: "none"``: the answer enters neither
        the conversation nor the Pipecat context, pushes no frames (no bot turn, no
        audio, no transcript) and its function calls are returned, never run.
        Several may run at once, next to the bot's turns (OpenAI, Azure's v1
        endpoint; other providers take them one at a time between replies).

        Args:
            input: What it reads instead of the conversation, in order: Pipecat
                messages (``{"role": ..., "content": ...}``), ``ConversationItem``
                objects or wire item dicts, and ``{"type": "item_reference", "id":
                ...}`` naming items of the conversation. None reads the whole
                conversation (without adding to it).
            instructions: Instructions for this response only (the session's
                otherwise).
            tools: Tools for this response only: a Pipecat ``ToolsSchema`` or wire tool
                dicts as the session takes them (the session's otherwise).
            tool_choice: ``"auto"``, ``"none"``, ``"required"`` or
                ``{"type": "function", "name": ...}``.
            output_modalities: ``["text"]`` (default) or ``["audio"]``; None for the
                session's.
            metadata: Up to 15 string pairs, echoed back on the response.
            conversation: Only ``"none"``; ``"auto"`` raises ``ValueError`` (it would
                write to the conversation the service keeps in step with the context;
                append to the context instead).
            max_output_tokens: Its token limit (or ``"inf"``).
            voice: The voice of an audio answer.
            timeout: Seconds to wait; then the response is cancelled and
                ``OutOfBandResponseError`` raised.

        Returns:
            The finished response: text, audio and its transcript, function calls,
            usage, status, id and metadata.

        Raises:
            ValueError: ``conversation`` is not ``"none"``, or other arguments the
                server would refuse.
            OutOfBandResponseError: The server refused or failed it, the connection
                closed, or the timeout passed. The session goes on.
            asyncio.CancelledError: The awaiting task was cancelled; the response is
                cancelled on the server too.
        """
        request_id, future = self._out_of_band_waiters.open()
        try:
            actions = self._core.out_of_band(
                request_id,
                response_input(input),
                instructions=instructions,
                max_output_tokens=max_output_tokens,
                tools=wire_tools(self.get_llm_adapter(), tools),
                tool_choice=tool_choice,
                output_modalities=output_modalities,
                metadata=metadata,
                voice=voice,
                conversation=conversation,
            )
        except ValueError:
            self._out_of_band_waiters.forget(request_id)
            raise
        await self._execute(actions)

        async def give_up() -> None:
            self._out_of_band_waiters.forget(request_id)
            await self._execute(self._core.cancel_out_of_band(request_id))

        return await wait_for_response(future, seconds=timeout, give_up=give_up)
