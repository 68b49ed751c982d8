"""The conversation items a client makes: text messages, tool outputs, images.

Also how a tool result becomes the string the API takes (:func:`encode_result`), and
:class:`ToolMessages`, the wording of tool news that travels as a message rather than
as a ``function_call_output`` (a host passes Pipecat's; :class:`PlainToolMessages`
serves without Pipecat).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from pipecat_realtime_openai.protocol.items import ConversationItem, ItemContent
from pipecat_realtime_openai.protocol.session import ImageDetail

TIMED_OUT_OUTPUT = '{"error": "The function call timed out before it returned a result."}'
"""What the model is told about a function call that timed out."""

CANCELLED_OUTPUT = "CANCELLED"
"""What the model is told about a function call cancelled by an interruption."""


def to_protocol_item(item: Any) -> ConversationItem:
    """Convert an item given as a model of another library, or a wire dict.

    Args:
        item: A :class:`ConversationItem`, any pydantic model with the same wire
            fields (Pipecat's ``events.ConversationItem``), or a wire dict.

    Returns:
        The same item as :class:`ConversationItem`.
    """
    if isinstance(item, ConversationItem):
        return item
    data = dict(item) if isinstance(item, Mapping) else item.model_dump(exclude_none=True)
    return ConversationItem.model_validate(data)


def text_message_item(text: str, role: str) -> ConversationItem:
    """Build a message item carrying text for the given role.

    Args:
        text: The text.
        role: ``user``, ``assistant`` or ``system`` (``developer`` counts as system).

    Returns:
        The item; assistant text is ``output_text``, everything else ``input_text``.
    """
    if role == "assistant":
        return ConversationItem(
            type="message", role="assistant", content=[ItemContent(type="output_text", text=text)]
        )
    wire_role = "user" if role == "user" else "system"
    return ConversationItem(
        type="message", role=wire_role, content=[ItemContent(type="input_text", text=text)]
    )


def image_item(data_uri: str, detail: ImageDetail) -> ConversationItem:
    """Build a user message carrying one image.

    Args:
        data_uri: The image as a ``data:image/...;base64,`` URI.
        detail: The image detail the model looks at it with.
    """
    content = ItemContent(type="input_image", image_url=data_uri, detail=detail)
    return ConversationItem(type="message", role="user", content=[content])


def function_output_item(call_id: str, output: str) -> ConversationItem:
    """Build the ``function_call_output`` item answering a call.

    Args:
        call_id: The server's call id.
        output: The result as a string.
    """
    return ConversationItem(type="function_call_output", call_id=call_id, output=output)


def mcp_approval_response_item(
    request_id: str, approve: bool, reason: str | None = None
) -> ConversationItem:
    """Build the ``mcp_approval_response`` item answering an MCP approval request.

    Args:
        request_id: The ``mcp_approval_request`` item's id.
        approve: Whether the call may run.
        reason: Why; left out of the item when None (the field is optional).

    Returns:
        The item (its id is given when it is sent).
    """
    item = ConversationItem(
        type="mcp_approval_response", approval_request_id=request_id, approve=approve
    )
    if reason is not None:
        item.reason = reason
    return item


def encode_result(result: Any) -> str:
    """Encode a tool result as the string the API expects.

    Args:
        result: What the tool handler reported.

    Returns:
        Strings are kept, other values JSON-encoded; an empty result reads ``COMPLETED``.
    """
    if result is None or result == "":
        return "COMPLETED"
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, default=str)


class ToolMessages(Protocol):
    """How tool news that is not a call's one output is worded for the model."""

    def progress(self, call_id: str, output: str) -> str:
        """Text of an intermediate result (the API takes one output per call)."""
        ...

    def late_result(self, call_id: str, output: str) -> str:
        """Text of a result whose call the server no longer waits for."""
        ...


class PlainToolMessages:
    """Plain wording of tool news (the Pipecat service uses Pipecat's own)."""

    def progress(self, call_id: str, output: str) -> str:
        """Text of an intermediate result."""
        return f"Progress of function call {call_id}: {output}"

    def late_result(self, call_id: str, output: str) -> str:
        """Text of a result whose call the server no longer waits for."""
        return f"Result of function call {call_id}: {output}"
