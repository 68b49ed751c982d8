"""Token usage of a simulated response, shaped like the real `response.done` usage.

A rough but stable model: 4 characters of text make a token, input audio costs 10
tokens per second and output audio 20 (close to what real sessions report). Caching:
the input tokens already read by the previous response count as cached (rounded down to
a multiple of 64), split between text and audio in proportion.
"""

from __future__ import annotations

import math
from typing import Any

from pipecat_realtime_openai.testing.conversation import ConversationStore

CHARS_PER_TOKEN = 4
INPUT_AUDIO_TOKENS_PER_S = 10
OUTPUT_AUDIO_TOKENS_PER_S = 20
CACHE_BLOCK = 64


def text_tokens(text: str) -> int:
    """Tokens of a text under the 4-characters-per-token rule."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _item_tokens(item: dict[str, Any], store: ConversationStore) -> tuple[int, int]:
    text = 0
    audio = 0
    kind = item.get("type")
    if kind == "function_call":
        text += text_tokens(item.get("name", "") + item.get("arguments", ""))
    elif kind == "function_call_output":
        text += text_tokens(item.get("output", ""))
    for index, part in enumerate(item.get("content") or []):
        part_type = part.get("type")
        if part_type in ("input_text", "output_text", "text"):
            text += text_tokens(part.get("text") or "")
        elif part_type == "input_audio":
            ms = store.input_audio_ms.get(item.get("id", ""), 0.0)
            audio += math.ceil(ms / 1000 * INPUT_AUDIO_TOKENS_PER_S)
        elif part_type in ("output_audio", "audio"):
            ms = store.audio_ms.get((item.get("id", ""), index), 0)
            audio += math.ceil(ms / 1000 * OUTPUT_AUDIO_TOKENS_PER_S)
    return text, audio


def response_usage(
    *,
    context_items: list[dict[str, Any]],
    instructions: str,
    output_items: list[dict[str, Any]],
    output_audio_ms: float,
    store: ConversationStore,
    previous_input_tokens: int,
) -> dict[str, Any]:
    """Build the ``usage`` object of a `response.done`.

    Args:
        context_items: Items the response read.
        instructions: Instructions in force.
        output_items: Items the response produced.
        output_audio_ms: Audio it generated.
        store: The conversation (audio durations of items).
        previous_input_tokens: Input tokens of the previous response on this connection.

    Returns:
        The usage dict, with input/output token details and cached token details.
    """
    in_text = text_tokens(instructions)
    in_audio = 0
    for item in context_items:
        text, audio = _item_tokens(item, store)
        in_text += text
        in_audio += audio
    out_audio = math.ceil(output_audio_ms / 1000 * OUTPUT_AUDIO_TOKENS_PER_S)
    out_text = 0
    for item in output_items:
        out_text += _item_tokens(item, store)[0]
        for part in item.get("content") or []:
            out_text += text_tokens(part.get("transcript") or "")
    input_tokens = in_text + in_audio
    cached = min(previous_input_tokens, input_tokens) // CACHE_BLOCK * CACHE_BLOCK
    cached_audio = cached * in_audio // input_tokens if input_tokens else 0
    output_tokens = out_text + out_audio
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": in_text,
            "audio_tokens": in_audio,
            "image_tokens": 0,
            "cached_tokens": cached,
            "cached_tokens_details": {
                "text_tokens": cached - cached_audio,
                "audio_tokens": cached_audio,
                "image_tokens": 0,
            },
        },
        "output_token_details": {"text_tokens": out_text, "audio_tokens": out_audio},
    }


REQUESTS_PER_MINUTE = 5_000
TOKENS_PER_MINUTE = 40_000


def rate_limits(requests_made: int, tokens_used: int) -> list[dict[str, Any]]:
    """The ``rate_limits`` list of a `rate_limits.updated`, for a fixed simulated quota.

    Args:
        requests_made: Responses created so far on the connection.
        tokens_used: Tokens those responses used.

    Returns:
        Request and token limits with what remains (never below zero) and a reset time.
    """
    return [
        {
            "name": "requests",
            "limit": REQUESTS_PER_MINUTE,
            "remaining": max(0, REQUESTS_PER_MINUTE - requests_made),
            "reset_seconds": 60.0,
        },
        {
            "name": "tokens",
            "limit": TOKENS_PER_MINUTE,
            "remaining": max(0, TOKENS_PER_MINUTE - tokens_used),
            "reset_seconds": 60.0,
        },
    ]
