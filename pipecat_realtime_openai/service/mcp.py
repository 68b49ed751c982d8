"""MCP calls as Pipecat function-call frames, and the application's approval handler.

The server runs MCP calls itself; observers (RTVI, transcripts, evals) still see each
one as Pipecat's own function calls show: ``FunctionCallsStartedFrame``,
``FunctionCallInProgressFrame`` and ``FunctionCallResultFrame`` (name, arguments,
result), broadcast both ways as ``LLMService`` broadcasts its calls, each with
``metadata["mcp_server_label"]``. Pipecat's assistant aggregator writes them into the
context as a tool call and its result, which is what happened; the result frame asks
not to run the model (``run_llm=False``: the server goes on by itself in the same
response), and the core knows the call id as an MCP call's, so the context sync takes
the tool call for the server's ``mcp_call`` item and never sends the result back as a
``function_call_output``.

Approvals: the handler given to the service decides (sync or async; ``True``/``False``
or ``(approve, reason)``). It runs in a task of its own, so a handler that asks a
person does not hold up the session. A handler that raises or returns something else
denies the call and reports the error; with no handler every request is denied, with
a warning (a tool that asks for approval may act for the user).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeAlias

from loguru import logger
from pipecat.frames.frames import (
    Frame,
    FunctionCallFromLLM,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    FunctionCallResultProperties,
    FunctionCallsStartedFrame,
)

from pipecat_realtime_openai.core.mcp import (
    HANDLER_FAILED_REASON,
    NO_HANDLER_REASON,
    McpApprovalRequest,
    McpCallNews,
    McpDecision,
    decision_from_answer,
    parse_arguments,
)

McpApprovalAnswer: TypeAlias = bool | tuple[bool, str | None]
"""An approval handler's answer: approve or not, optionally with a reason."""

McpApprovalHandler: TypeAlias = Callable[
    [McpApprovalRequest], McpApprovalAnswer | Awaitable[McpApprovalAnswer]
]
"""Decides an :class:`~pipecat_realtime_openai.core.mcp.McpApprovalRequest` (sync or async)."""

SERVER_LABEL_KEY = "mcp_server_label"
"""``Frame.metadata`` key naming the MCP server of a function-call frame it made."""


def _labelled(frame: Frame, call: McpCallNews) -> Frame:
    frame.metadata[SERVER_LABEL_KEY] = call.server_label
    return frame


def call_started_frames(call: McpCallNews, context: Any) -> list[Frame]:
    """The frames announcing an MCP call: started, then in progress.

    Args:
        call: The call.
        context: The application's ``LLMContext`` (what ``FunctionCallFromLLM`` carries).
    """
    arguments = parse_arguments(call.arguments)
    announced = FunctionCallFromLLM(
        function_name=call.name, tool_call_id=call.call_id, arguments=arguments, context=context
    )
    return [
        _labelled(FunctionCallsStartedFrame(function_calls=[announced]), call),
        _labelled(
            FunctionCallInProgressFrame(
                function_name=call.name,
                tool_call_id=call.call_id,
                arguments=arguments,
                # The server runs it to the end whatever the user does.
                cancel_on_interruption=True,
            ),
            call,
        ),
    ]


def call_result_frame(call: McpCallNews) -> Frame:
    """The frame with an MCP call's result (``{"error": ...}`` for a failed call)."""
    result: Any = call.output if call.error is None else {"error": call.error}
    return _labelled(
        FunctionCallResultFrame(
            function_name=call.name,
            tool_call_id=call.call_id,
            arguments=parse_arguments(call.arguments),
            result=result,
            run_llm=False,
            properties=FunctionCallResultProperties(run_llm=False),
            error=call.error,
        ),
        call,
    )


Answer = Callable[[McpApprovalRequest, McpDecision], Awaitable[None]]
Report = Callable[[str, Exception], Awaitable[None]]
StartTask = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]
StopTask = Callable[[asyncio.Task[None]], Awaitable[None]]


class McpApprovals:
    """Runs the application's approval handler for each request, one task each.

    Args:
        handler: The application's handler, or None (every request is denied).
        name: The service's name, for logs.
        answer: Gives a decision to the core (which sends it).
        report: Reports a handler failure to the pipeline.
    """

    def __init__(
        self, handler: McpApprovalHandler | None, name: str, answer: Answer, report: Report
    ) -> None:
        self._handler = handler
        self._name = name
        self._answer = answer
        self._report = report
        self._tasks: set[asyncio.Task[None]] = set()

    async def ask(self, request: McpApprovalRequest, start_task: StartTask) -> None:
        """Decide a request: at once without a handler, else in a task of its own."""
        if self._handler is None:
            logger.warning(
                f"{self._name}: MCP call {request.server_label}.{request.name} needs approval"
                " and no mcp_approval_handler is set: denied"
            )
            await self._answer(request, McpDecision(False, NO_HANDLER_REASON))
            return
        task = start_task(self._decide(request), f"mcp_approval_{request.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def decide(self, request: McpApprovalRequest) -> McpDecision:
        """Run the handler; a failure denies (and is reported). Never raises."""
        assert self._handler is not None
        try:
            answer = self._handler(request)
            if inspect.isawaitable(answer):
                answer = await answer
            return decision_from_answer(answer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = (
                f"MCP approval handler failed for {request.server_label}.{request.name}"
                f" ({type(exc).__name__}: {exc}); the call is denied"
            )
            logger.warning(f"{self._name}: {message}")
            await self._report(message, exc)
            return McpDecision(False, HANDLER_FAILED_REASON)

    async def _decide(self, request: McpApprovalRequest) -> None:
        await self._answer(request, await self.decide(request))

    async def stop(self, stop_task: StopTask) -> None:
        """Cancel the handlers still running (their requests can no longer be answered)."""
        for task in list(self._tasks):
            await stop_task(task)
        self._tasks.clear()
