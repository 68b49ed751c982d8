"""Remote MCP tools: what the server reports of them, and the client's approvals.

The server lists an MCP server's tools (an ``mcp_list_tools`` item) and runs its calls
(``mcp_call`` items) itself; the client only watches, and answers the approval
requests (``mcp_approval_request`` items) of tools that need one. Each item arrives up
to four times (``conversation.item.added``/``.done``, ``response.output_item.added``/
``.done``), so :class:`McpTracker` makes every piece of news come out once: a call
starts once its name and arguments are known and ends once its output or error is.

An application's approval answer is a ``bool`` or ``(bool, reason)``
(:func:`decision_from_answer`); without an answer the request is denied
(:data:`NO_HANDLER_REASON`): a tool that asks for approval may act on the user's
behalf, so silence must not run it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pipecat_realtime_openai.protocol.items import ConversationItem

NO_HANDLER_REASON = "No MCP approval handler is configured, so calls needing approval are denied."
"""The reason a request is denied with when the application set no approval handler."""

HANDLER_FAILED_REASON = "The MCP approval handler failed."
"""The reason a request is denied with when the approval handler raised."""

_REMEMBERED = 256
# How many finished calls stay known: a late frame about one (e.g. its result frame
# coming back through the pipeline) must still be recognised as an MCP call.


@dataclass(frozen=True, slots=True)
class McpApprovalRequest:
    """The server asks whether the model may call an MCP tool.

    Attributes:
        id: The ``mcp_approval_request`` item's id (the answer names it).
        server_label: The MCP server.
        name: The tool.
        arguments: The call's arguments as JSON text.
    """

    id: str
    server_label: str
    name: str
    arguments: str

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict (empty when they are not a JSON object)."""
        return parse_arguments(self.arguments)


@dataclass(frozen=True, slots=True)
class McpDecision:
    """An answer to an :class:`McpApprovalRequest`.

    Attributes:
        approve: Whether the call may run.
        reason: Why, if given (the model reads it).
    """

    approve: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class McpCallNews:
    """An MCP call as far as it is known.

    Attributes:
        call_id: The ``mcp_call`` item's id.
        server_label: The MCP server.
        name: The tool.
        arguments: The arguments as JSON text.
        output: The result, once the call returned.
        error: What went wrong, once the call failed.
    """

    call_id: str
    server_label: str
    name: str
    arguments: str
    output: str | None = None
    error: str | None = None


def parse_arguments(arguments: str) -> dict[str, Any]:
    """Read JSON arguments as a dict; anything else (or bad JSON) gives an empty one."""
    try:
        value = json.loads(arguments) if arguments else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def decision_from_answer(answer: Any) -> McpDecision:
    """Read what an approval handler returned.

    Args:
        answer: ``True``/``False``, or ``(approve, reason)``.

    Returns:
        The decision.

    Raises:
        TypeError: For anything else (the caller denies and reports it).
    """
    if isinstance(answer, bool):
        return McpDecision(answer)
    if (
        isinstance(answer, tuple)
        and len(answer) == 2
        and isinstance(answer[0], bool)
        and (answer[1] is None or isinstance(answer[1], str))
    ):
        return McpDecision(answer[0], answer[1])
    raise TypeError(
        f"an MCP approval handler returns a bool or (bool, reason), not {type(answer).__name__}"
    )


def error_text(error: Any) -> str:
    """A one-line description of an ``mcp_call`` item's ``error`` object."""
    if isinstance(error, dict):
        message = error.get("message") or "no message"
        kind = error.get("type") or "error"
        code = error.get("code")
        return f"{kind} {code}: {message}" if code is not None else f"{kind}: {message}"
    return str(error) if error else "the call failed"


@dataclass(slots=True)
class _Call:
    server_label: str = ""
    name: str = ""
    arguments: str | None = None
    started: bool = False
    ended: bool = False
    failed: bool = False


class McpTracker:
    """What the server reported of MCP listings, calls and approval requests.

    Each piece of news comes out once, however many copies of an item arrive.
    """

    def __init__(self) -> None:
        """Start knowing nothing."""
        self._lists: dict[str, str] = {}
        self._listed: set[str] = set()
        self._calls: OrderedDict[str, _Call] = OrderedDict()
        self._asked: set[str] = set()
        self._pending: dict[str, McpApprovalRequest] = {}

    # -- listings ------------------------------------------------------------------------

    def list_seen(self, item: ConversationItem) -> None:
        """An ``mcp_list_tools`` item was added or finished."""
        if item.id and item.server_label:
            self._lists[item.id] = item.server_label

    def server_of_list(self, item_id: str) -> str:
        """The server label of a listing ("" when its item was never seen)."""
        return self._lists.get(item_id, "")

    def tools_listed(self, item: ConversationItem) -> bool:
        """A finished ``mcp_list_tools`` item: True the first time its tools are known."""
        self.list_seen(item)
        if not item.id or item.tools is None or item.id in self._listed:
            return False
        self._listed.add(item.id)
        return True

    # -- calls -------------------------------------------------------------------------------

    def is_call(self, call_id: str) -> bool:
        """Whether this id is an MCP call's (the server ran it; nothing is owed)."""
        return call_id in self._calls

    def call_seen(self, item: ConversationItem) -> None:
        """An ``mcp_call`` item was added or finished: remember what it says."""
        if not item.id:
            return
        call = self._call(item.id)
        call.server_label = item.server_label or call.server_label
        call.name = item.name or call.name
        if item.arguments:
            call.arguments = item.arguments

    def call_start(self, item_id: str, arguments: str | None = None) -> McpCallNews | None:
        """The call's arguments are known: its news, the first time it can start."""
        call = self._calls.get(item_id)
        if call is None:
            return None
        if arguments is not None:
            call.arguments = arguments
        if call.started or not call.name or call.arguments is None:
            return None
        call.started = True
        return McpCallNews(item_id, call.server_label, call.name, call.arguments)

    def call_failed(self, item_id: str) -> None:
        """``response.mcp_call.failed``: the item's ``error`` says why."""
        self._call(item_id).failed = True

    def call_end(self, item: ConversationItem) -> McpCallNews | None:
        """A finished ``mcp_call`` item: its outcome, the first time one is known."""
        if not item.id:
            return None
        self.call_seen(item)
        call = self._calls[item.id]
        if call.ended:
            return None
        if item.error is None and item.output is None and not call.failed:
            return None  # finished without an outcome yet: wait for the next copy
        call.ended = True
        failed = item.error is not None or call.failed
        return McpCallNews(
            item.id,
            call.server_label,
            call.name,
            call.arguments or "",
            output=None if failed else (item.output or ""),
            error=error_text(item.error) if failed else None,
        )

    def _call(self, item_id: str) -> _Call:
        call = self._calls.get(item_id)
        if call is None:
            call = self._calls[item_id] = _Call()
            while len(self._calls) > _REMEMBERED:
                self._calls.popitem(last=False)
        return call

    # -- approvals -----------------------------------------------------------------------

    def approval_seen(self, item: ConversationItem) -> McpApprovalRequest | None:
        """An ``mcp_approval_request`` item: the request, the first time it is whole."""
        if not item.id or not item.name or item.id in self._asked:
            return None
        self._asked.add(item.id)
        request = McpApprovalRequest(
            item.id, item.server_label or "", item.name, item.arguments or ""
        )
        self._pending[item.id] = request
        return request

    def answered(self, request_id: str) -> McpApprovalRequest | None:
        """The application answered: the request, if the server still waits for it."""
        return self._pending.pop(request_id, None)

    def reset(self) -> None:
        """A new connection: old requests can no longer be answered."""
        self._pending.clear()
        self._lists.clear()
        self._listed.clear()
