"""Out-of-band responses on the Pipecat side: what the caller gives, and the waiting.

The decisions (tagging, how many run at once, what a response produced) are the core's
(:mod:`pipecat_realtime_openai.core.out_of_band`); this module turns the caller's
Pipecat-style arguments into the core's, and keeps one future per request that the
executor settles when the core reports the request ended.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.adapters.llm.services.open_ai_realtime_adapter import OpenAIRealtimeLLMAdapter

from pipecat_realtime_openai.core.actions import OutOfBandResult
from pipecat_realtime_openai.core.context_sync import ContextMessage
from pipecat_realtime_openai.core.out_of_band import OutOfBandResponse, OutOfBandResponseError
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.service.context import context_message

InputEntry = ContextMessage | ConversationItem | Mapping[str, Any]


def response_input(entries: Iterable[Any] | None) -> list[InputEntry] | None:
    """The core's view of a ``create_response`` input, in the caller's order.

    Args:
        entries: Pipecat messages (dicts with a ``role``, or ``LLMSpecificMessage``),
            :class:`ConversationItem` objects, wire item dicts (with a ``type``) and
            ``{"type": "item_reference", "id": ...}`` dicts; None for the conversation.

    Returns:
        Context messages for the Pipecat messages, the rest as given.
    """
    if entries is None:
        return None
    out: list[InputEntry] = []
    for entry in entries:
        if isinstance(entry, ConversationItem):
            out.append(entry)
        elif isinstance(entry, Mapping) and "type" in entry and "role" not in entry:
            out.append(entry)
        elif isinstance(entry, Mapping) and entry.get("type") == "message":
            out.append(entry)  # a wire message item (role and type)
        else:
            out.append(context_message(entry))
    return out


def wire_tools(
    adapter: OpenAIRealtimeLLMAdapter, tools: ToolsSchema | Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]] | None:
    """Tools as ``response.create`` takes them.

    Args:
        adapter: The service's adapter (turns a ``ToolsSchema`` into wire tools).
        tools: Pipecat's ``ToolsSchema``, or wire tool dicts as the session takes them.
    """
    if tools is None:
        return None
    if isinstance(tools, ToolsSchema):
        return [dict(tool) for tool in adapter.from_standard_tools(tools) or []]
    return [dict(tool) for tool in tools]


class OutOfBandWaiters:
    """One future per out-of-band request, settled from the core's ``OutOfBandResult``."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self._futures: dict[str, asyncio.Future[OutOfBandResponse]] = {}

    def open(self) -> tuple[str, asyncio.Future[OutOfBandResponse]]:
        """A new request id and the future its result settles."""
        request_id = str(next(self._numbers))
        future: asyncio.Future[OutOfBandResponse] = asyncio.get_running_loop().create_future()
        self._futures[request_id] = future
        return request_id, future

    def forget(self, request_id: str) -> None:
        """The caller stopped waiting (its result, if one comes, is dropped)."""
        self._futures.pop(request_id, None)

    def settle(self, action: OutOfBandResult) -> None:
        """A request ended: its caller gets the response, or the error."""
        future = self._futures.pop(action.request_id, None)
        if future is None or future.done():
            return
        if action.error is None and action.response is not None:
            future.set_result(action.response)
        else:
            reason = action.error or "the response ended without a result"
            future.set_exception(OutOfBandResponseError(reason, action.response))


async def wait_for_response(
    future: asyncio.Future[OutOfBandResponse],
    *,
    seconds: float | None,
    give_up: Callable[[], Awaitable[None]],
) -> OutOfBandResponse:
    """Wait for a request's result; a timeout or a cancelled wait cancels the response.

    Args:
        future: The request's future (from :meth:`OutOfBandWaiters.open`).
        seconds: Seconds to wait, or None for as long as it takes.
        give_up: Cancels the request on the server (``response.cancel``).

    Raises:
        OutOfBandResponseError: The server refused or failed it, the connection
            closed, or the timeout passed.
        asyncio.CancelledError: The waiting task was cancelled (the response is too).
    """
    try:
        async with asyncio.timeout(seconds):
            return await future
    except TimeoutError:
        await give_up()
        raise OutOfBandResponseError(f"no answer within {seconds} s (cancelled)") from None
    except asyncio.CancelledError:
        await give_up()
        raise
