"""Context messages -> the conversation items that stand for them on the server.

A context message in neutral form
(:class:`~pipecat_realtime_openai.core.context_sync.ContextMessage`) becomes zero or
more items: a user message with its text and images, an assistant
message, a ``function_call`` per tool call, a ``function_call_output`` for a tool
result, a system message for a system, developer or tool-progress note. Each item gets
an id from the caller, so later edits can delete it and insert after it by id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from pipecat_realtime_openai.core.context_sync import ContextMessage
from pipecat_realtime_openai.core.items import function_output_item, text_message_item
from pipecat_realtime_openai.protocol.items import ConversationItem, ItemContent
from pipecat_realtime_openai.protocol.session import ImageDetail

NewItemId = Callable[[], str]
"""Makes the id of the next item the client creates."""

_DETAILS = frozenset({"auto", "low", "high"})


def items_for(message: ContextMessage, new_id: NewItemId) -> list[ConversationItem]:
    """The items that carry one context message, in order (ids from ``new_id``).

    Args:
        message: The message.
        new_id: Makes item ids.

    Returns:
        The items; none for a message the server never gets (another provider's) or
        one with nothing in it.
    """
    items: list[ConversationItem] = []
    role = message.role
    if role is None:
        return items
    if message.tool_result is not None:
        result = message.tool_result
        items.append(function_output_item(result.call_id, result.output))
    elif message.tool_calls:
        if message.text:
            items.append(text_message_item(message.text, "assistant"))
        items.extend(
            ConversationItem(
                type="function_call", call_id=call.call_id, name=call.name, arguments=call.arguments
            )
            for call in message.tool_calls
        )
    elif role == "user":
        parts = [ItemContent(type="input_text", text=message.text)] if message.text else []
        parts += [
            ItemContent(type="input_image", image_url=url, detail=_detail(detail))
            for url, detail in message.images
        ]
        if parts:
            items.append(ConversationItem(type="message", role="user", content=parts))
    elif message.text:
        # Assistant text; system, developer and tool-progress notes go in as system text.
        items.append(
            text_message_item(message.text, "assistant" if role == "assistant" else "system")
        )
    for item in items:
        item.id = new_id()
    return items


def _detail(detail: str | None) -> ImageDetail | None:
    return cast(ImageDetail, detail) if detail in _DETAILS else None
