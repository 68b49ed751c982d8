"""Where a ``response.done`` keeps its token usage, whoever sent it.

OpenAI and Azure put it in ``response.usage``. xAI leaves ``response.usage`` empty and
puts it at the top of the event, sometimes without a total. The usage reported is the
first that holds counts, with its total made up from input and output when missing.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from pipecat_realtime_openai.protocol.base import WIRE_CONTEXT
from pipecat_realtime_openai.protocol.responses import Usage


def _has_counts(usage: Usage | None) -> bool:
    return usage is not None and any(
        count is not None for count in (usage.total_tokens, usage.input_tokens, usage.output_tokens)
    )


def response_usage(event: Any) -> Usage | None:
    """Return the token usage of a ``response.done``.

    Args:
        event: The parsed ``response.done``.

    Returns:
        The usage, or None when the event carries no counts anywhere.
    """
    usage: Usage | None = getattr(event.response, "usage", None)
    if not _has_counts(usage):
        top = getattr(event, "usage", None)
        if isinstance(top, dict):
            try:
                usage = Usage.model_validate(top, context=WIRE_CONTEXT)
            except ValidationError:
                usage = None
    if not _has_counts(usage):
        return None
    assert usage is not None
    if usage.total_tokens is None:
        total = (usage.input_tokens or 0) + (usage.output_tokens or 0)
        usage = usage.model_copy(update={"total_tokens": total})
    return usage
