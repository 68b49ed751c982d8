"""What a new connection needs to continue the conversation of the one that was lost.

Pure decisions used by the service after a reconnect or a session rollover: the
``conversation.item.create`` events that rebuild the conversation (from
:meth:`~pipecat_realtime_openai.core.conversation.ConversationMirror.restore_plan`), and
whether the user is still owed an answer.
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


def answer_owed_after_drop(
    *,
    response_in_flight: bool,
    response_interrupted: bool,
    user_turn_unanswered: bool,
    open_calls: int,
) -> bool:
    """Decide whether to ask for a response once the conversation is restored.

    Args:
        response_in_flight: A response was requested or being produced when the
            connection was lost (it never finished, so its half-said item is gone).
        response_interrupted: That response had been interrupted by the user, whose
            own turn brings the next answer.
        user_turn_unanswered: The server committed a user turn it was going to answer
            by itself (server VAD) and no response had started yet.
        open_calls: Function calls whose results are still to come; the last result
            asks for the answer, so asking now would answer twice.

    Returns:
        True when exactly one ``response.create`` is due after the restore.
    """
    if open_calls:
        return False
    if response_in_flight and not response_interrupted:
        return True
    return user_turn_unanswered
