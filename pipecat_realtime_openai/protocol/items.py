"""Conversation items: messages, function calls and their outputs, MCP items."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from pipecat_realtime_openai.protocol.base import WireModel
from pipecat_realtime_openai.protocol.session import ImageDetail

ContentType: TypeAlias = (
    Literal[
        "input_text",
        "input_audio",
        "input_image",
        "output_text",
        "output_audio",
        "text",
        "audio",
    ]
    | str
)
"""Content part types; other strings are kept so newer servers do not break parsing."""

ItemType: TypeAlias = (
    Literal[
        "message",
        "function_call",
        "function_call_output",
        "mcp_list_tools",
        "mcp_call",
        "mcp_approval_request",
        "mcp_approval_response",
    ]
    | str
)
"""Item types a voice client handles; other strings are kept as-is."""


class ItemContent(WireModel):
    """One content part of a message item.

    Which fields apply depends on ``type``: ``input_text``/``output_text`` use
    ``text``; ``input_audio`` uses ``audio`` (base64) and ``transcript``;
    ``output_audio`` uses ``transcript`` (and ``audio`` when included);
    ``input_image`` uses ``image_url`` (a base64 data URI) and ``detail``.

    Parameters:
        type: Content part type.
        text: Text of a text part.
        audio: Base64-encoded audio.
        transcript: Transcript of an audio part.
        image_url: ``data:image/png;base64,...`` or ``data:image/jpeg;base64,...``.
        detail: How closely the model looks at the image.
    """

    type: ContentType
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None
    image_url: str | None = None
    detail: ImageDetail | None = None


class ConversationItem(WireModel):
    """An item of the server-side conversation.

    Parameters:
        id: Item id. Optional when creating (the server assigns one); up to 32 chars.
        object: ``"realtime.item"`` in server events.
        type: ``message``, ``function_call``, ``function_call_output``, or an MCP item
            (``mcp_list_tools``, ``mcp_call``, ``mcp_approval_request``,
            ``mcp_approval_response``).
        status: ``completed``, ``in_progress`` or ``incomplete``.
        role: ``user``, ``assistant`` or ``system`` for messages.
        content: Content parts of a message.
        call_id: Function call id (function_call and function_call_output).
        name: Function name of a function_call.
        arguments: JSON-encoded arguments of a function_call.
        output: Result of a function call or an MCP call, as a string (usually JSON).
        server_label: The MCP server of an ``mcp_list_tools``, ``mcp_call`` or
            ``mcp_approval_request`` item.
        tools: The tools an ``mcp_list_tools`` item lists (``name``, ``input_schema``,
            ``description``, ``annotations``).
        error: What went wrong in an ``mcp_call`` (``type`` ``protocol_error``,
            ``tool_execution_error`` or ``http_error``, and a ``message``).
        approval_request_id: The approval request an ``mcp_call`` ran under, or the one
            an ``mcp_approval_response`` answers.
        approve: The decision of an ``mcp_approval_response``.
        reason: Why, in an ``mcp_approval_response``.
    """

    id: str | None = None
    object: Literal["realtime.item"] | None = None
    type: ItemType
    status: Literal["completed", "in_progress", "incomplete"] | None = None
    # Other strings are kept: compatible servers use e.g. "tool" for function results.
    role: Literal["user", "assistant", "system"] | str | None = None
    content: list[ItemContent] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None
    server_label: str | None = None
    tools: list[dict[str, Any]] | None = None
    error: dict[str, Any] | None = None
    approval_request_id: str | None = None
    approve: bool | None = None
    reason: str | None = None
