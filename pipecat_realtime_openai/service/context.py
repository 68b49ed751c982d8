"""Pipecat's side of the conversation, in the core's terms.

The core knows no ``LLMContext``: :func:`snapshot` turns one into a
:class:`~pipecat_realtime_openai.core.context_sync.ContextSnapshot` (its messages in
neutral form, and the seed items Pipecat's OpenAI Realtime adapter makes of it), and
:func:`wanted_session` into the session configuration the core should hold the
server to. :class:`PipecatToolMessages` words tool news the way Pipecat's other LLM
services do, and :func:`token_usage` / :func:`language_of` convert back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from pipecat.adapters.llm.services.open_ai_realtime_adapter import OpenAIRealtimeLLMAdapter
from pipecat.metrics.metrics import LLMTokenUsage
from pipecat.processors.aggregators import async_tool_messages
from pipecat.processors.aggregators.llm_context import (
    LLMContext,
    LLMSpecificMessage,
    standard_message_text,
)
from pipecat.transcriptions.language import Language

from pipecat_realtime_openai.core.context_sync import (
    ContextMessage,
    ContextSnapshot,
    ToolCall,
    ToolResult,
)
from pipecat_realtime_openai.core.items import encode_result, to_protocol_item
from pipecat_realtime_openai.core.session_config import response_modalities, session_wire_dict
from pipecat_realtime_openai.protocol.mcp import mcp_tool_dict
from pipecat_realtime_openai.protocol.responses import Usage
from pipecat_realtime_openai.protocol.session import SessionProperties

IN_PROGRESS_RESULT = "IN_PROGRESS"
"""What the assistant aggregator writes for a tool call that has not returned yet."""


def context_message(message: Any) -> ContextMessage:
    """Describe one ``LLMContext`` message for the core.

    Args:
        message: A standard message dict, or an ``LLMSpecificMessage``.
    """
    if isinstance(message, LLMSpecificMessage) or not isinstance(message, dict):
        return ContextMessage(role=None)
    role = message.get("role")
    role = role if isinstance(role, str) else None
    text = standard_message_text(cast(Any, message)) or ""
    payload = async_tool_messages.parse_message(cast(Any, message))
    if payload is not None:
        result = None
        if payload.kind == "final":
            result = ToolResult(payload.tool_call_id, encode_result(payload.result))
        return ContextMessage(role, text=text, tool_result=result, tool_traffic=True)
    if role == "tool":
        call_id = message.get("tool_call_id")
        content = message.get("content")
        result = None
        if call_id and content != IN_PROGRESS_RESULT:
            result = ToolResult(call_id, encode_result(content))
        return ContextMessage(role, tool_result=result)
    if message.get("tool_calls"):
        calls = tuple(_tool_calls(message.get("tool_calls")))
        return ContextMessage(role, text=text, tool_traffic=True, tool_calls=calls)
    return ContextMessage(role, text=text, images=tuple(_images(message.get("content"))))


def _tool_calls(calls: Any) -> Iterable[ToolCall]:
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and call.get("id") and function.get("name"):
            arguments = function.get("arguments")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments if arguments is not None else {})
            yield ToolCall(str(call["id"]), str(function["name"]), arguments)


def _images(content: Any) -> Iterable[tuple[str, str | None]]:
    for part in content if isinstance(content, list) else []:
        if isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str) and url:
                detail = image.get("detail") if isinstance(image, dict) else None
                yield url, detail if isinstance(detail, str) else None


def context_messages(messages: Iterable[Any]) -> tuple[ContextMessage, ...]:
    """Describe messages (of a context, or of an ``LLMMessagesAppendFrame``) for the core."""
    return tuple(context_message(message) for message in messages)


async def snapshot(
    adapter: OpenAIRealtimeLLMAdapter,
    context: LLMContext,
    props: SessionProperties,
    system_instruction: str | None,
    *,
    packed: bool = False,
) -> tuple[ContextSnapshot, dict[str, Any]]:
    """Describe a context for the core: its snapshot, and the session it implies.

    Pipecat's adapter gives the instructions and tools the context carries (its own
    tools win over the service's) and, for the ``packed`` seed, the one history item.

    Args:
        adapter: The service's LLM adapter.
        context: The context.
        props: The session properties of the service's settings.
        system_instruction: The service's system instruction, if any.
        packed: Include the packed history item (``context_seed="packed"``). Without
            it the adapter reads only what decides the session (the leading message,
            which may be the system message, and the tools), not the whole history
            it would pack and discard on every context frame.
    """
    source = context
    if not packed:
        source = LLMContext(messages=context.get_messages()[:1], tools=context.tools)
    params = await adapter.get_llm_invocation_params(
        source, system_instruction=system_instruction, service_tools=props.tools
    )
    seed = tuple(to_protocol_item(item) for item in params["messages"]) if packed else ()
    found = ContextSnapshot(messages=context_messages(context.get_messages()), seed=seed)
    tools: Any = params["tools"]
    return found, _session(props, params["system_instruction"], tools)


def wanted_session(
    adapter: OpenAIRealtimeLLMAdapter, props: SessionProperties, system_instruction: str | None
) -> dict[str, Any]:
    """The session the settings describe, before any context arrived.

    Args:
        adapter: The service's LLM adapter (turns standard tools into wire tools).
        props: The session properties of the service's settings.
        system_instruction: The service's system instruction, if any.
    """
    return _session(props, system_instruction, adapter.from_standard_tools(props.tools))


def _session(props: SessionProperties, instructions: str | None, tools: Any) -> dict[str, Any]:
    wire = session_wire_dict(props)
    if props.output_modalities is not None:
        # Responses carry one modality; "audio" includes its transcript.
        wire["output_modalities"] = response_modalities(props)
    if instructions:
        wire["instructions"] = instructions
    # An McpTool given inside a ToolsSchema's custom tools goes out as its wire dict.
    wire["tools"] = [mcp_tool_dict(tool) for tool in tools] if isinstance(tools, list) else []
    return wire


class PipecatToolMessages:
    """Tool news worded as Pipecat's async tool messages, which its aggregators know."""

    def progress(self, call_id: str, output: str) -> str:
        """Text of an intermediate result."""
        message = async_tool_messages.build_intermediate_result_message(call_id, output)
        return str(message.get("content", ""))

    def late_result(self, call_id: str, output: str) -> str:
        """Text of a result whose call the server no longer waits for."""
        message = async_tool_messages.build_final_result_message(call_id, output)
        return str(message.get("content", ""))


def token_usage(usage: Usage) -> LLMTokenUsage:
    """Convert the usage of a ``response.done`` into Pipecat's token usage metrics.

    Args:
        usage: The ``response.usage`` object.

    Returns:
        Prompt/completion/total tokens with cached and audio details (Pipecat's usage
        model has no text fields; text tokens are the totals minus the audio ones).
    """
    inp = usage.input_token_details
    out = usage.output_token_details
    cached = inp.cached_tokens_details if inp is not None else None
    return LLMTokenUsage(
        prompt_tokens=usage.input_tokens or 0,
        completion_tokens=usage.output_tokens or 0,
        total_tokens=usage.total_tokens or 0,
        cache_read_input_tokens=inp.cached_tokens if inp is not None else None,
        input_audio_tokens=inp.audio_tokens if inp is not None else None,
        output_audio_tokens=out.audio_tokens if out is not None else None,
        cache_read_input_audio_tokens=cached.audio_tokens if cached is not None else None,
    )


def language_of(code: str | None) -> Language | None:
    """Map a transcription language code (``"en"``, ``"fr-FR"``) to Pipecat's enum."""
    if not code:
        return None
    try:
        return Language(code)
    except ValueError:
        return None
