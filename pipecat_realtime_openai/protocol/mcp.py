"""Remote MCP server tools of a session (``{"type": "mcp", ...}`` in ``session.tools``).

The server itself lists an MCP server's tools and calls them; the client only names
the server, and answers approval requests when the tool asks for them. The fields are
those of the ``openai`` package's ``realtime_tools_config_union.Mcp``.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from pydantic import Field, model_validator

from pipecat_realtime_openai.protocol.base import WireModel


class McpToolFilter(WireModel):
    """A filter naming tools of an MCP server.

    Parameters:
        tool_names: Tools by name.
        read_only: Tools by their ``readOnlyHint`` annotation.
    """

    tool_names: list[str] | None = None
    read_only: bool | None = None


class McpApprovalFilter(WireModel):
    """Which tools of an MCP server need the client's approval, and which never do.

    Parameters:
        always: Tools that always need approval.
        never: Tools that never need approval.
    """

    always: McpToolFilter | None = None
    never: McpToolFilter | None = None


McpRequireApproval: TypeAlias = Literal["always", "never"] | McpApprovalFilter
"""``"always"``, ``"never"``, or a filter saying which tools need approval."""


class McpTool(WireModel):
    """A remote MCP server the model may call tools of.

    ``authorization`` and ``headers`` carry credentials: they are sent to the server
    but kept out of the model's ``repr`` (and so out of logs).

    Parameters:
        type: Always ``"mcp"``.
        server_label: The name the model and the events know the server by.
        server_url: The server's URL (or ``connector_id`` for an OpenAI connector).
        connector_id: An OpenAI connector (e.g. ``connector_googledrive``).
        authorization: An OAuth access token for the server.
        headers: HTTP headers sent to the server.
        allowed_tools: The tools the model may use: names, or a filter.
        require_approval: Which calls wait for the client's approval (see
            :data:`McpRequireApproval`); the server's default is ``"always"``.
        server_description: What the server is for, to help the model choose.
    """

    type: Literal["mcp"] = "mcp"
    server_label: str
    server_url: str | None = None
    connector_id: str | None = None
    authorization: str | None = Field(default=None, repr=False)
    headers: dict[str, str] | None = Field(default=None, repr=False)
    allowed_tools: list[str] | McpToolFilter | None = None
    require_approval: McpRequireApproval | None = None
    server_description: str | None = None

    @model_validator(mode="after")
    def _names_a_server(self) -> McpTool:
        if not self.server_url and not self.connector_id:
            raise ValueError("an MCP tool needs a server_url or a connector_id")
        return self


def is_mcp_tool(tool: Any) -> bool:
    """Whether a session tool (a wire dict or a model) is an MCP server tool.

    Args:
        tool: One entry of ``session.tools``.
    """
    if isinstance(tool, McpTool):
        return True
    return isinstance(tool, dict) and tool.get("type") == "mcp"


def mcp_tool_dict(tool: Any) -> Any:
    """The wire dict of an :class:`McpTool`; anything else is returned as given.

    Args:
        tool: One entry of ``session.tools``.
    """
    return tool.to_dict() if isinstance(tool, McpTool) else tool
