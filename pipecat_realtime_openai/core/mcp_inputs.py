"""MCP news from the server, and the application's approval answers, as core inputs.

The server runs MCP calls; the core only tells the host what happened, once each
(:class:`~pipecat_realtime_openai.core.mcp.McpTracker`):

- a finished ``mcp_list_tools`` item: ``on_mcp_tools_listed(server_label, tools)``;
  ``mcp_list_tools.failed``: an error report (not fatal: the bot goes on without that
  server's tools);
- an ``mcp_call``: :class:`~pipecat_realtime_openai.core.actions.McpCallStarted` once
  its arguments are known, :class:`~pipecat_realtime_openai.core.actions.McpCallEnded`
  with its output or error (a failure is reported too, not fatal). Its id is marked
  handled in the context sync, so the result the host's function-call frames write
  into the application's context is never sent back as a ``function_call_output``;
- an ``mcp_approval_request``:
  :class:`~pipecat_realtime_openai.core.actions.McpApprovalAsked`. The answer
  (:meth:`McpInputs.mcp_approval`) goes out as an ``mcp_approval_response`` item and a
  ``response.create``, which the server needs to go on (approved: the call runs in that
  response; denied: the model answers without it).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from loguru import logger

from pipecat_realtime_openai.core.actions import (
    Action,
    McpApprovalAsked,
    McpCallEnded,
    McpCallStarted,
    Notify,
    ReportError,
)
from pipecat_realtime_openai.core.items import mcp_approval_response_item
from pipecat_realtime_openai.core.mcp import McpCallNews
from pipecat_realtime_openai.core.session_base import SessionBase
from pipecat_realtime_openai.protocol import server_events as ev
from pipecat_realtime_openai.protocol.items import ConversationItem

Handler = Callable[[Any, float, list[Action]], None]


class McpInputs(SessionBase):
    """MCP server events and items, and approval answers."""

    @cached_property
    def _mcp_event_handlers(self) -> dict[type, Handler]:
        return {
            ev.McpListToolsCompleted: self._on_mcp_list_completed,
            ev.McpListToolsFailed: self._on_mcp_list_failed,
            ev.ResponseMcpCallArgumentsDone: self._on_mcp_arguments_done,
            ev.ResponseMcpCallInProgress: self._on_mcp_call_in_progress,
            ev.ResponseMcpCallFailed: self._on_mcp_call_failed,
        }

    def mcp_approval(
        self, request_id: str, approve: bool, reason: str | None = None
    ) -> list[Action]:
        """The application answered an MCP approval request.

        Args:
            request_id: The ``mcp_approval_request`` item's id.
            approve: Whether the call may run.
            reason: Why (the model reads it).

        Returns:
            The ``mcp_approval_response`` item and the ``response.create`` the server
            needs to go on; nothing for a request it no longer waits for (answered
            already, or asked on a connection that ended).
        """
        out: list[Action] = []
        request = self._mcp.answered(request_id)
        if request is None:
            logger.debug(f"{self._name}: MCP approval {request_id} is not awaited (ignored)")
            return out
        verdict = "approved" if approve else "denied"
        logger.info(
            f"{self._name}: MCP call {request.server_label}.{request.name} {verdict}"
            + (f" ({reason})" if reason else "")
        )
        self._add_item(mcp_approval_response_item(request_id, approve, reason), out)
        self._responses.pending_input = True
        self._request_response(out)
        return out

    def _mcp_item(self, item: ConversationItem, done: bool, out: list[Action]) -> None:
        """Any copy of an item (added or done, conversation or response output)."""
        kind = item.type
        tracker = self._mcp
        if kind == "mcp_list_tools":
            if done and tracker.tools_listed(item):
                tools = list(item.tools or [])
                logger.info(
                    f"{self._name}: MCP server {item.server_label!r} lists {len(tools)} tools"
                )
                out.append(Notify("on_mcp_tools_listed", (item.server_label or "", tools)))
            else:
                tracker.list_seen(item)
        elif kind == "mcp_call" and item.id:
            tracker.call_seen(item)
            # The server holds this call and its output: the context's copy of it (the
            # host's function-call frames) must never be sent back as an output.
            self._conversation.sync.mark_call_handled(item.id)
            if done:
                self._mcp_call_start(item.id, None, out)
                news = tracker.call_end(item)
                if news is not None:
                    self._mcp_call_ended(news, out)
        elif kind == "mcp_approval_request":
            request = tracker.approval_seen(item)
            if request is not None:
                out.append(McpApprovalAsked(request))

    def _mcp_call_start(self, item_id: str, arguments: str | None, out: list[Action]) -> None:
        news = self._mcp.call_start(item_id, arguments)
        if news is not None:
            out.append(McpCallStarted(news))

    def _mcp_call_ended(self, news: McpCallNews, out: list[Action]) -> None:
        out.append(McpCallEnded(news))
        if news.error is not None:
            text = f"MCP call {news.server_label}.{news.name} failed: {news.error}"
            logger.warning(f"{self._name}: {text}")
            out.append(ReportError(text, "server"))

    def _on_mcp_list_completed(
        self, event: ev.McpListToolsCompleted, now: float, out: list[Action]
    ) -> None:
        logger.debug(f"{self._name}: MCP tools of {self._mcp.server_of_list(event.item_id)!r}")

    def _on_mcp_list_failed(
        self, event: ev.McpListToolsFailed, now: float, out: list[Action]
    ) -> None:
        label = self._mcp.server_of_list(event.item_id) or event.item_id
        text = (
            f"MCP server {label!r}: listing its tools failed; the model goes on without them"
            " (check server_url, authorization and allowed_tools)"
        )
        logger.warning(f"{self._name}: {text}")
        out.append(ReportError(text, "server"))

    def _on_mcp_arguments_done(
        self, event: ev.ResponseMcpCallArgumentsDone, now: float, out: list[Action]
    ) -> None:
        self._mcp_call_start(event.item_id, event.arguments, out)

    def _on_mcp_call_in_progress(
        self, event: ev.ResponseMcpCallInProgress, now: float, out: list[Action]
    ) -> None:
        self._mcp_call_start(event.item_id, None, out)

    def _on_mcp_call_failed(
        self, event: ev.ResponseMcpCallFailed, now: float, out: list[Action]
    ) -> None:
        self._mcp.call_failed(event.item_id)
