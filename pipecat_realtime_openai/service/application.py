"""The application's side of the conversation, as Pipecat holds it.

:class:`ApplicationContext` knows which ``LLMContext`` is the application's (the last one
a frame brought), keeps the tools that ``LLMSetToolsFrame`` set before any context
arrived, and says what the core is to be told: the context as a
:class:`~pipecat_realtime_openai.core.context_sync.ContextSnapshot` and the session
configuration it implies. :func:`result_outcome` reads a function call result frame
the way Pipecat's aggregators and other LLM services do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pipecat.adapters.llm.services.open_ai_realtime_adapter import OpenAIRealtimeLLMAdapter
from pipecat.frames.frames import FunctionCallResultFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.utils.types import assert_given

from pipecat_realtime_openai.core.context_sync import ContextSnapshot
from pipecat_realtime_openai.core.items import encode_result
from pipecat_realtime_openai.protocol.session import SessionProperties
from pipecat_realtime_openai.service.context import snapshot, wanted_session
from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings


class ApplicationContext:
    """Which ``LLMContext`` is current, and what the core is told of it.

    Args:
        adapter: The service's LLM adapter.
        settings: Returns the service's current settings.
        packed: The first context is seeded as one packed item (``context_seed``).
    """

    def __init__(
        self,
        adapter: OpenAIRealtimeLLMAdapter,
        settings: Callable[[], OpenAIRealtimeLLMSettings],
        *,
        packed: bool = False,
    ) -> None:
        self._adapter = adapter
        self._settings = settings
        self._packed = packed
        self._context: LLMContext | None = None
        # Tools set by LLMSetToolsFrame before any context frame arrived.
        self._tools_context: LLMContext | None = None

    @property
    def context(self) -> LLMContext | None:
        """The application's context: the last one a frame brought, if any."""
        return self._context

    @property
    def model(self) -> str:
        """The model of the settings."""
        return str(self._settings().model)

    def session_properties(self) -> SessionProperties:
        """The session properties of the settings."""
        return assert_given(self._settings().session_properties)

    def initial_session(self) -> dict[str, Any]:
        """The session the settings describe, before any context or tools frame."""
        return wanted_session(self._adapter, self.session_properties(), self._instruction())

    async def session(self) -> dict[str, Any]:
        """The session the settings, the tools and the context describe now."""
        context = self._context or self._tools_context
        if context is None:
            return self.initial_session()
        _, wanted = await snapshot(
            self._adapter, context, self.session_properties(), self._instruction()
        )
        return wanted

    async def receive(self, context: LLMContext) -> tuple[ContextSnapshot, dict[str, Any]]:
        """A frame brought a context: it is the application's from now on.

        Returns:
            The context for the core, and the session it implies.
        """
        self._context = context
        return await snapshot(
            self._adapter,
            context,
            self.session_properties(),
            self._instruction(),
            packed=self._packed,
        )

    def replace_messages(self, messages: Sequence[Any]) -> LLMContext:
        """``LLMMessagesUpdateFrame`` with no aggregator upstream: the messages replace it.

        Returns:
            The context to hand on (a new one when none arrived yet).
        """
        if self._context is None:
            return LLMContext(messages=list(messages))
        self._context.set_messages(list(messages))
        return self._context

    def set_tools(self, tools: Any) -> None:
        """``LLMSetToolsFrame``: the context's tools, as Pipecat's aggregator sets them.

        Before the pipeline's context arrives they wait in a context of the service's
        own; the service's configured tools stay its fallback.
        """
        context = self._context
        if context is None:
            if self._tools_context is None:
                self._tools_context = LLMContext()
            context = self._tools_context
        context.set_tools(tools)

    def _instruction(self) -> str | None:
        instruction = self._settings().system_instruction
        return instruction if isinstance(instruction, str) and instruction else None


def result_outcome(frame: FunctionCallResultFrame) -> tuple[str, bool, bool]:
    """What a function call result means for the model, by Pipecat's convention.

    An empty result (``None``, ``{}``, ``""``) never runs the model, so an "end the
    call" tool does not make the bot speak again; otherwise the result's ``run_llm``
    decides (its properties first, then the frame's).

    Returns:
        The output text, whether it is the call's final result, and whether it asks
        the model to respond.
    """
    properties = frame.properties
    final = properties.is_final if properties else True
    if not frame.result:
        run_llm = False
    elif properties is not None and properties.run_llm is not None:
        run_llm = properties.run_llm
    else:
        run_llm = frame.run_llm is not False
    return encode_result(frame.result), final, run_llm
