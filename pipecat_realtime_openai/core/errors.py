"""Error policy: what the service does with each server error code.

The whole policy is the single table :data:`ERROR_POLICY`. Look a code up with
:func:`classify_error`; HTTP statuses seen while connecting go through
:func:`classify_http_status`. Codes not in the table are reported and the session
carries on, because ending a live voice session over an unfamiliar warning is worse
than logging it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


class ErrorAction(Enum):
    """What the service does when it meets an error."""

    IGNORE = "ignore"
    """Expected race with the server; log at debug level and carry on."""
    RECOVER = "recover"
    """Report a warning and keep the session running."""
    RECONNECT = "reconnect"
    """Recycle the connection and restore the conversation."""
    FATAL = "fatal"
    """Stop: retrying can never succeed until the user changes something."""

    @property
    def keeps_session(self) -> bool:
        """Whether the session carries on as it is (IGNORE and RECOVER)."""
        return self in (ErrorAction.IGNORE, ErrorAction.RECOVER)


ErrorCategoryName = Literal[
    "unknown",
    "authentication",
    "authorization",
    "invalid_request",
    "rate_limit",
    "quota",
    "connectivity",
    "server",
]
"""Why an error happened, by the value of the matching ``pipecat.utils.errors.ErrorCategory``.

Pipecat counts ``authentication``, ``authorization`` and ``invalid_request`` as
permanent: an error reported with one of them takes the service out of service. So
only FATAL rules may carry them.
"""

PERMANENT_CATEGORIES: frozenset[ErrorCategoryName] = frozenset(
    {"authentication", "authorization", "invalid_request"}
)
"""Categories Pipecat treats as permanent (the processor is marked unusable)."""


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """The decision for one error code.

    Attributes:
        action: What the service does.
        category: Why it happened; the ``ErrorFrame`` carries it. It agrees with
            the action: a permanent category only on FATAL rules.
        hint: A sentence telling the user what happened or what to fix.
    """

    action: ErrorAction
    category: ErrorCategoryName
    hint: str


_IGNORE = ErrorAction.IGNORE
_RECOVER = ErrorAction.RECOVER
_RECONNECT = ErrorAction.RECONNECT
_FATAL = ErrorAction.FATAL

ERROR_POLICY: dict[str, ErrorRule] = {
    # Races between client and server: the state we wanted is already there.
    "response_cancel_not_active": ErrorRule(
        _IGNORE,
        "unknown",
        "The response had already finished when the cancel arrived; nothing to do.",
    ),
    "conversation_already_has_active_response": ErrorRule(
        _RECOVER,
        "unknown",
        "A response.create was sent while a response was active; it is sent again when "
        "the active one ends.",
    ),
    "input_audio_buffer_commit_empty": ErrorRule(
        _IGNORE, "unknown", "Commit with under 100 ms of audio; the turn had no audio to send."
    ),
    "item_truncate_invalid_item_id": ErrorRule(
        _IGNORE, "unknown", "The item to truncate is gone (already deleted or never created)."
    ),
    "item_delete_invalid_item_id": ErrorRule(
        _IGNORE, "unknown", "The item to delete is gone (already deleted or never created)."
    ),
    "item_retrieve_invalid_item_id": ErrorRule(
        _IGNORE, "unknown", "The item to retrieve does not exist on the server."
    ),
    "invalid_value": ErrorRule(
        _RECOVER,
        "unknown",
        "The server rejected a value (often a truncation past the generated audio); "
        "the conversation continues.",
    ),
    "rate_limit_exceeded": ErrorRule(
        _RECOVER,
        "rate_limit",
        "Rate limit hit; slow down or raise the limits of your OpenAI organisation.",
    ),
    "rate_limit_error": ErrorRule(
        _RECOVER,
        "rate_limit",
        "Rate limit hit; slow down or raise the limits of your OpenAI organisation.",
    ),
    "server_error": ErrorRule(
        _RECOVER, "server", "The server had an internal error; the session continues."
    ),
    "invalid_request_error": ErrorRule(
        _RECOVER,
        "unknown",
        "The server rejected a client event; check the session settings in the log.",
    ),
    # The server ends the session after 60 minutes; a fresh connection continues it.
    "session_expired": ErrorRule(
        _RECONNECT,
        "connectivity",
        "The session hit the 60 minute limit; reconnecting and restoring.",
    ),
    # Retrying these loops forever: only the user can fix them.
    "invalid_api_key": ErrorRule(
        _FATAL,
        "authentication",
        "The API key was rejected; check OPENAI_API_KEY (or the api_key argument).",
    ),
    "insufficient_quota": ErrorRule(
        _FATAL, "quota", "The account has no quota left; check billing at platform.openai.com."
    ),
    "account_deactivated": ErrorRule(
        _FATAL, "authorization", "The OpenAI account is deactivated; contact OpenAI support."
    ),
    "billing_hard_limit_reached": ErrorRule(
        _FATAL, "quota", "The billing hard limit is reached; raise it at platform.openai.com."
    ),
    "http_401": ErrorRule(
        _FATAL,
        "authentication",
        "Connection refused with HTTP 401; check OPENAI_API_KEY (or the api_key argument).",
    ),
    "http_403": ErrorRule(
        _FATAL,
        "authorization",
        "Connection refused with HTTP 403; the key has no access to this model or project.",
    ),
}
"""Server error code (or error type) -> rule. The one place the error policy lives."""

DEFAULT_RULE = ErrorRule(
    _RECOVER, "unknown", "Unrecognised server error; reported and the session continues."
)
"""Rule for codes that are not in :data:`ERROR_POLICY`."""

_RETRYABLE_HTTP_DEFAULT = ErrorRule(
    _RECONNECT, "connectivity", "Connection refused by the server; retrying with backoff."
)


def classify_error(code: str | None, error_type: str | None = None) -> ErrorRule:
    """Decide what to do with a server ``error`` event.

    The code is looked up first because it is the most specific; the error type is the
    fallback (some errors come with ``code: null``).

    Args:
        code: ``error.code`` of the event, if any.
        error_type: ``error.type`` of the event, if any.

    Returns:
        The matching rule, or :data:`DEFAULT_RULE`.
    """
    if code and code in ERROR_POLICY:
        return ERROR_POLICY[code]
    if error_type and error_type in ERROR_POLICY:
        return ERROR_POLICY[error_type]
    return DEFAULT_RULE


def classify_http_status(status: int) -> ErrorRule:
    """Decide what to do when the WebSocket handshake is refused with an HTTP status.

    Args:
        status: The HTTP status code of the refused handshake.

    Returns:
        FATAL for 401/403 (credentials will not fix themselves), otherwise a
        RECONNECT rule so the caller retries with backoff.
    """
    return ERROR_POLICY.get(f"http_{status}", _RETRYABLE_HTTP_DEFAULT)


def error_policy_markdown() -> str:
    """Render :data:`ERROR_POLICY` as a Markdown table for the README.

    Returns:
        A table with one row per code (action, category, hint), plus a last row for
        unknown codes.
    """
    lines = ["| Code | Action | Category | What it means |", "| --- | --- | --- | --- |"]
    for code, rule in [*ERROR_POLICY.items(), ("*(any other)*", DEFAULT_RULE)]:
        shown = code if code.startswith("*") else f"`{code}`"
        lines.append(f"| {shown} | {rule.action.name} | {rule.category} | {rule.hint} |")
    return "\n".join(lines) + "\n"
