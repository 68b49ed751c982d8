"""Starting a response: the `response` object, what the model "reads", and the reply."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.testing.conversation import ConversationStore
from pipecat_realtime_openai.testing.ids import new_id
from pipecat_realtime_openai.testing.mcp import McpSessionState
from pipecat_realtime_openai.testing.responder import (
    Reply,
    Responder,
    ResponseContext,
    last_user_text,
)
from pipecat_realtime_openai.testing.responses import ResponseRun
from pipecat_realtime_openai.testing.server_events import Event, make_event


def context_items(store: ConversationStore, options: dict[str, Any]) -> list[dict[str, Any]]:
    """Items a response reads: the conversation, or the response's own ``input`` list.

    Args:
        store: The conversation.
        options: The ``response`` object of `response.create`; ``item_reference``
            entries of its ``input`` resolve to conversation items.

    Returns:
        Copies of the items.
    """
    if options.get("input") is None:
        return copy.deepcopy(store.items)
    items = []
    for entry in options["input"]:
        if entry.get("type") == "item_reference":
            found = store.get(entry.get("id", ""))
            if found is not None:
                items.append(copy.deepcopy(found))
        else:
            items.append(copy.deepcopy(entry))
    return items


def _within_tool_choice(reply: Reply, tool_choice: Any) -> Reply:
    # The model calls no tool under "none", and only the named one under a function
    # choice, whatever the script says.
    if tool_choice == "none":
        allowed: set[str] | None = set()
    elif isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        allowed = {str(tool_choice.get("name"))}
    else:
        allowed = None
    if allowed is None:
        return reply
    calls = [call for call in reply.function_calls if call.name in allowed]
    if len(calls) == len(reply.function_calls):
        return reply
    return dataclasses.replace(reply, function_calls=tuple(calls))


def start_response(
    *,
    session: dict[str, Any],
    store: ConversationStore,
    conversation_id: str,
    responder: Responder,
    options: dict[str, Any],
    previous_input_tokens: int,
    early: list[Event],
    late: list[Event],
    mcp: McpSessionState | None = None,
) -> ResponseRun:
    """Ask the responder for a reply and prepare the response that delivers it.

    Args:
        session: The effective session.
        store: The conversation.
        conversation_id: The ``conv_...`` id of this connection.
        responder: Decides the reply.
        options: The ``response`` object of `response.create` (``{}`` for VAD turns):
            ``conversation`` ("none" = out of band), ``instructions``,
            ``output_modalities``, ``metadata``, ``input``, ``max_output_tokens``,
            ``audio.output.voice``.
        previous_input_tokens: Input tokens of the previous response (cache model).
        early: Events to send right after `response.created`.
        late: Events to send after the first audio chunk.
        mcp: The connection's MCP servers (approved calls, approval policies).

    Returns:
        The response, ready to be pulled step by step.
    """
    in_conversation = options.get("conversation", "auto") != "none"
    output = session["audio"]["output"]
    voice = ((options.get("audio") or {}).get("output") or {}).get("voice") or output["voice"]
    response = {
        "object": "realtime.response",
        "id": new_id("resp"),
        "status": "in_progress",
        "status_details": None,
        "output": [],
        "conversation_id": conversation_id if in_conversation else None,
        "output_modalities": list(options.get("output_modalities") or session["output_modalities"]),
        "max_output_tokens": options.get("max_output_tokens", session["max_output_tokens"]),
        "audio": {"output": {"format": copy.deepcopy(output["format"]), "voice": voice}},
        "usage": None,
        "metadata": options.get("metadata"),
    }

    tools = options["tools"] if options.get("tools") is not None else session.get("tools") or []
    tool_choice = options.get("tool_choice") or session.get("tool_choice") or "auto"

    def ask_responder() -> Reply:
        items = context_items(store, options)
        function_outputs = {
            item["call_id"]: item.get("output", "")
            for item in items
            if item.get("type") == "function_call_output" and "call_id" in item
        }
        reply = responder.reply(
            ResponseContext(
                items=items,
                session=copy.deepcopy(session),
                response=copy.deepcopy(options),
                last_user_text=last_user_text(items),
                function_outputs=function_outputs,
                tools=copy.deepcopy(tools),
                tool_choice=copy.deepcopy(tool_choice),
            )
        )
        return _within_tool_choice(reply, tool_choice)

    items = context_items(store, options)
    # Calls the client approved run first; the responder speaks once it read them.
    approved = mcp.take_approved() if mcp is not None and in_conversation else []
    reply = Reply() if approved else ask_responder()
    return ResponseRun(
        reply=reply,
        response=response,
        in_conversation=in_conversation,
        store=store,
        output_spec=AudioFormatSpec.from_session_format(output["format"]),
        speed=float(output.get("speed") or 1.0),
        make_event=make_event,
        context_items=items,
        instructions=options.get("instructions") or session.get("instructions") or "",
        previous_input_tokens=previous_input_tokens,
        early_events=early,
        late_events=late,
        mcp=mcp if in_conversation else None,
        session=session,
        approved=approved,
        follow_up=ask_responder,
    )
