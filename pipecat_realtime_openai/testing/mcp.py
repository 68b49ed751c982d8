"""Simulated remote MCP servers: tool listings, calls and approvals, as the server runs them.

A test sets up the MCP servers the simulator can reach (:class:`McpRegistry`, shared
by every connection: tools per ``server_label``, each with its result function). Per
connection, :class:`McpSessionState` follows the session's ``mcp`` tools: after a
``session.update`` that names a server it lists that server's tools (an
``mcp_list_tools`` item, ``mcp_list_tools.in_progress`` then ``.completed``, or
``.failed`` for a server the registry cannot reach), and it decides which calls need
approval (``require_approval``; the server's default is ``"always"``) and keeps the
approval requests and the client's answers. The events of a call itself are made by
the response (:mod:`~pipecat_realtime_openai.testing.responses`).

Pure logic over wire dicts, like the rest of the simulator's state.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipecat_realtime_openai.testing.conversation import ConversationStore, ItemError
from pipecat_realtime_openai.testing.ids import new_id
from pipecat_realtime_openai.testing.responder import McpCall
from pipecat_realtime_openai.testing.server_events import Event, make_event

ToolResult = Callable[[dict[str, Any]], Any]
"""Computes a tool's result from the call's arguments; raising makes the call fail."""


@dataclass(frozen=True)
class FakeMcpTool:
    """One tool of a simulated MCP server.

    Attributes:
        name: The tool's name.
        result: Its result: a function of the arguments (a non-string result is sent
            as JSON; raising fails the call with a ``tool_execution_error``), or a
            fixed value.
        description: Its description in the listing.
        input_schema: Its JSON schema in the listing.
        read_only: Its ``readOnlyHint`` annotation (``read_only`` filters match it).
    """

    name: str
    result: ToolResult | Any = ""
    description: str = ""
    input_schema: dict[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    read_only: bool = False

    def listing(self) -> dict[str, Any]:
        """The tool as an ``mcp_list_tools`` item lists it."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": copy.deepcopy(self.input_schema),
            "annotations": {"readOnlyHint": self.read_only},
        }

    def run(self, arguments: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
        """Call the tool.

        Returns:
            ``(output, None)``, or ``(None, error)`` when the result function raised.
        """
        try:
            value = self.result(arguments) if callable(self.result) else self.result
        except Exception as exc:  # the tool's own failure is the call's outcome
            return None, {"type": "tool_execution_error", "message": str(exc)}
        return (value if isinstance(value, str) else json.dumps(value)), None


class McpRegistry:
    """The MCP servers the simulator can reach, by ``server_label``."""

    def __init__(self) -> None:
        """Start with no servers."""
        self.servers: dict[str, list[FakeMcpTool]] = {}
        self.unreachable: set[str] = set()

    def add_server(
        self, server_label: str, tools: Sequence[FakeMcpTool], *, reachable: bool = True
    ) -> None:
        """Make a server reachable under a label (or one whose listing fails).

        Args:
            server_label: The label a session's ``mcp`` tool names it by.
            tools: Its tools.
            reachable: False: listing its tools fails (``mcp_list_tools.failed``).
        """
        self.servers[server_label] = list(tools)
        if reachable:
            self.unreachable.discard(server_label)
        else:
            self.unreachable.add(server_label)

    def tools(self, server_label: str) -> list[FakeMcpTool] | None:
        """A reachable server's tools, or None."""
        if server_label in self.unreachable:
            return None
        return self.servers.get(server_label)


def check_mcp_tools(tools: Any) -> ItemError | None:
    """Refuse ``mcp`` tools a real server refuses: no label, or no server to reach.

    Args:
        tools: The ``tools`` of a ``session.update`` (any value).

    Returns:
        None when every ``mcp`` tool names a label and a ``server_url`` or
        ``connector_id``, else the error.
    """
    if not isinstance(tools, list):
        return None
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "mcp":
            continue
        param = f"session.tools.{index}"
        if not tool.get("server_label"):
            return ItemError("missing_required_parameter", "Missing server_label.", param)
        if not tool.get("server_url") and not tool.get("connector_id"):
            return ItemError(
                "missing_required_parameter",
                "An MCP tool needs a server_url or a connector_id.",
                param,
            )
    return None


def _filter_matches(spec: Any, tool: FakeMcpTool) -> bool:
    if not isinstance(spec, dict):
        return False
    if tool.name in (spec.get("tool_names") or []):
        return True
    return bool(spec.get("read_only")) and tool.read_only


def _allowed(config: dict[str, Any], tool: FakeMcpTool) -> bool:
    allowed = config.get("allowed_tools")
    if allowed is None:
        return True
    if isinstance(allowed, list):
        return tool.name in allowed
    return _filter_matches(allowed, tool)


@dataclass
class McpRun:
    """An MCP call a response is to make: what it calls and how it went.

    Attributes:
        call: The scripted call.
        approval_request_id: The approval it runs under, if one was asked.
        output: Its result, once run.
        error: Its error, once run (``output`` is then None).
    """

    call: McpCall
    approval_request_id: str | None = None
    output: str | None = None
    error: dict[str, Any] | None = None


class McpSessionState:
    """One connection's MCP servers, listings, approval requests and answers.

    Attributes:
        approvals: Every ``mcp_approval_response`` received: request id ->
            ``(approve, reason)``.
        calls: Every call run, in order.
    """

    def __init__(self, registry: McpRegistry) -> None:
        """Follow the servers of a registry.

        Args:
            registry: The servers the simulator can reach.
        """
        self._registry = registry
        self._listed: dict[str, list[FakeMcpTool] | None] = {}
        self._requests: dict[str, McpCall] = {}
        self._approved: list[McpRun] = []
        self.approvals: dict[str, tuple[bool, str | None]] = {}
        self.calls: list[McpRun] = []

    @staticmethod
    def configs(session: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The session's ``mcp`` tools by label."""
        tools = session.get("tools") or []
        return {
            tool["server_label"]: tool
            for tool in tools
            if isinstance(tool, dict) and tool.get("type") == "mcp"
        }

    def listing_events(self, session: dict[str, Any], store: ConversationStore) -> list[Event]:
        """List the tools of every server the session names that is not listed yet.

        Args:
            session: The effective session after a ``session.update``.
            store: The conversation (the ``mcp_list_tools`` items join it).
        """
        events: list[Event] = []
        for label, config in self.configs(session).items():
            if label in self._listed:
                continue
            tools = self._registry.tools(label)
            listed = None if tools is None else [t for t in tools if _allowed(config, t)]
            self._listed[label] = listed
            item = {"id": new_id("mcpl"), "type": "mcp_list_tools", "server_label": label}
            previous, _ = store.insert({**item, "tools": []})
            events.append(
                make_event(
                    "conversation.item.added", previous_item_id=previous, item={**item, "tools": []}
                )
            )
            events.append(make_event("mcp_list_tools.in_progress", item_id=item["id"]))
            done = {**item, "tools": [t.listing() for t in listed or []]}
            stored = store.get(item["id"])
            if stored is not None:
                stored["tools"] = copy.deepcopy(done["tools"])
            outcome = "mcp_list_tools.failed" if listed is None else "mcp_list_tools.completed"
            events.append(make_event(outcome, item_id=item["id"]))
            events.append(
                make_event("conversation.item.done", previous_item_id=previous, item=done)
            )
        return events

    def needs_approval(self, session: dict[str, Any], call: McpCall) -> bool:
        """Whether a call waits for the client's approval (``require_approval``)."""
        config = self.configs(session).get(call.server_label) or {}
        policy = config.get("require_approval")
        if policy == "never":
            return False
        if not isinstance(policy, dict):
            return True  # "always", or unset: the server's default
        tool = self._tool(call) or FakeMcpTool(call.name)
        if _filter_matches(policy.get("never"), tool):
            return False
        return True

    def ask(self, call: McpCall) -> str:
        """Record an approval request for a call; returns the request item's id."""
        request_id = new_id("mcpr")
        self._requests[request_id] = call
        return request_id

    def answer(self, item: dict[str, Any]) -> ItemError | None:
        """An ``mcp_approval_response`` item arrived: record the decision.

        Returns:
            The error a real server sends for an answer to no pending request.
        """
        request_id = item.get("approval_request_id")
        call = self._requests.pop(str(request_id), None)
        if call is None:
            return ItemError(
                "invalid_value",
                f"No pending MCP approval request with id '{request_id}'.",
                "item.approval_request_id",
            )
        approve = bool(item.get("approve"))
        self.approvals[str(request_id)] = (approve, item.get("reason"))
        if approve:
            self._approved.append(McpRun(call, approval_request_id=str(request_id)))
        return None

    def take_approved(self) -> list[McpRun]:
        """The approved calls not run yet (the next response runs them)."""
        approved, self._approved = self._approved, []
        return approved

    def run(self, session: dict[str, Any], planned: McpRun) -> McpRun:
        """Run a call against its server (an unknown server or tool fails it)."""
        tool = self._tool(planned.call)
        config = self.configs(session).get(planned.call.server_label)
        if tool is None or config is None or not _allowed(config, tool):
            planned.error = {
                "type": "protocol_error",
                "code": -32602,
                "message": f"Unknown tool: {planned.call.name}",
            }
        else:
            planned.output, planned.error = tool.run(planned.call.arguments_dict())
        self.calls.append(planned)
        return planned

    def _tool(self, call: McpCall) -> FakeMcpTool | None:
        for tool in self._listed.get(call.server_label) or []:
            if tool.name == call.name:
                return tool
        return None
