"""What a new connection needs to continue the conversation of the one that was lost.

The ``conversation.item.create`` events that rebuild the conversation after a reconnect
or a session rollover (from
:meth:`~pipecat_realtime_openai.core.conversation.ConversationMirror.restore_plan`).
Whether the user is still owed an answer is a rule of
:mod:`~pipecat_realtime_openai.core.responses`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipecat_realtime_openai.protocol.client_events import ConversationItemCreateEvent
from pipecat_realtime_openai.protocol.items import ConversationItem


def restore_events(plan: Iterable[Mapping[str, Any]]) -> list[ConversationItemCreateEvent]:
    """Turn a restore plan into the events that rebuild the conversation, in order.

    Args:
        plan: Item dicts from ``ConversationMirror.restore_plan``.

    Returns:
        One ``conversation.item.create`` per item. No ``previous_item_id``: each item
        is appended, so the order of the plan is the order on the server.
    """
    events = []
    for item in plan:
        model = ConversationItem.model_validate(dict(item))
        event_id = f"restore_{model.id}" if model.id else None
        events.append(ConversationItemCreateEvent(item=model, event_id=event_id))
    return events
