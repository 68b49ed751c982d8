"""What the simulated assistant says: pluggable responders and scripted replies."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class FunctionCall:
    """A tool call the simulated assistant makes.

    Attributes:
        name: Function name.
        arguments: Arguments as a dict (JSON-encoded on the wire) or a ready JSON string.
        call_id: Fixed call id; a fresh ``call_...`` id is made when None.
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    call_id: str | None = None

    def arguments_json(self) -> str:
        """The arguments as the JSON text the server streams."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class McpCall:
    """A call the simulated assistant makes to a tool of a remote MCP server.

    The simulator runs it against its MCP registry (``RealtimeSimulator.mcp``), asking
    the client's approval first when the session's ``require_approval`` says so. Once
    the calls of a reply ran, the same response goes on with the next reply of the
    responder, which sees their outputs (``ResponseContext.last_mcp_output``).

    Attributes:
        server_label: The server, as the session's ``mcp`` tool labels it.
        name: The tool.
        arguments: Arguments as a dict (JSON-encoded on the wire) or a ready JSON string.
    """

    server_label: str
    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)

    def arguments_json(self) -> str:
        """The arguments as the JSON text the server streams."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)

    def arguments_dict(self) -> dict[str, Any]:
        """The arguments as a dict (empty when they are not a JSON object)."""
        if isinstance(self.arguments, dict):
            return dict(self.arguments)
        try:
            value = json.loads(self.arguments)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Reply:
    """One response of the simulated assistant.

    Attributes:
        text: What it says: a string for one message item, a sequence of strings for
            several message items in the same response, or None for no message.
        function_calls: Tool calls made after the message items, in order.
        mcp_calls: MCP tool calls made after those (see :class:`McpCall`).
    """

    text: str | Sequence[str] | None = None
    function_calls: Sequence[FunctionCall] = ()
    mcp_calls: Sequence[McpCall] = ()

    def messages(self) -> list[str]:
        """The message texts, one per message item."""
        if self.text is None:
            return []
        if isinstance(self.text, str):
            return [self.text]
        return list(self.text)


@dataclass(frozen=True)
class ResponseContext:
    """What a responder may look at when deciding a reply.

    Attributes:
        items: The conversation items (wire shape) the response sees.
        session: The effective session config.
        response: The ``response`` options of the `response.create` (may be empty).
        last_user_text: Text of the last user message, or the transcript of its audio.
        function_outputs: ``call_id -> output`` of every function_call_output item seen.
        tools: The tools in force: the response's own, else the session's.
        tool_choice: The tool choice in force: the response's own, else the session's.
    """

    items: list[dict[str, Any]]
    session: dict[str, Any]
    response: dict[str, Any]
    last_user_text: str | None
    function_outputs: dict[str, str]
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"

    @property
    def out_of_band(self) -> bool:
        """Whether the response stays out of the conversation (``conversation: "none"``)."""
        return self.response.get("conversation") == "none"

    @property
    def metadata(self) -> dict[str, str]:
        """The metadata the response was created with."""
        return dict(self.response.get("metadata") or {})

    @property
    def instructions(self) -> str:
        """The instructions in force: the response's own, else the session's."""
        return self.response.get("instructions") or self.session.get("instructions") or ""

    @property
    def last_function_output(self) -> str | None:
        """Output of the function_call_output item closest to the end, if any."""
        for item in reversed(self.items):
            if item.get("type") == "function_call_output":
                return item.get("output")
        return None

    @property
    def last_mcp_output(self) -> str | None:
        """Output of the ``mcp_call`` item closest to the end, if any."""
        for item in reversed(self.items):
            if item.get("type") == "mcp_call":
                return item.get("output")
        return None


class Responder(Protocol):
    """Decides each reply of the simulated assistant."""

    def reply(self, context: ResponseContext) -> Reply:
        """Return the reply for a response about to start.

        Args:
            context: The conversation and options the response sees.
        """
        ...


class EchoResponder:
    """Default responder: repeats the last user text or transcript back."""

    def __init__(self, fallback: str = "I heard you.") -> None:
        """Create it.

        Args:
            fallback: What to say when the user turn has no text (audio, no transcript).
        """
        self.fallback = fallback

    def reply(self, context: ResponseContext) -> Reply:
        """Echo the last user text, or say the fallback."""
        text = (context.last_user_text or "").strip()
        return Reply(text=f"You said: {text}" if text else self.fallback)


ReplySource = Reply | Callable[[ResponseContext], Reply]


class ScriptedResponder:
    """Plays scripted replies in order, then falls back to another responder.

    A script entry is a `Reply`, or a callable given the `ResponseContext` that returns
    one (for a reply that depends on what a tool returned, or on the metadata of an
    out-of-band response).

    Out-of-band responses (``conversation: "none"``) take their replies from a script
    of their own when it has any (``out_of_band=`` / :meth:`add_out_of_band`), so
    answers on the side never take the conversation's next reply, whatever order the
    responses start in; with that script empty they take the main one.
    """

    def __init__(
        self,
        replies: Iterable[ReplySource] = (),
        then: Responder | None = None,
        *,
        out_of_band: Iterable[ReplySource] = (),
    ) -> None:
        """Create it.

        Args:
            replies: Replies to play, one per response, in order.
            then: Responder used once the script is exhausted (echo by default).
            out_of_band: Replies for out-of-band responses, in order.
        """
        self._script: deque[ReplySource] = deque(replies)
        self._side: deque[ReplySource] = deque(out_of_band)
        self._then = then or EchoResponder()

    def add(self, *replies: ReplySource) -> None:
        """Queue more replies at the end of the script."""
        self._script.extend(replies)

    def add_out_of_band(self, *replies: ReplySource) -> None:
        """Queue replies for out-of-band responses (``conversation: "none"``)."""
        self._side.extend(replies)

    @property
    def remaining(self) -> int:
        """Number of scripted replies not played yet."""
        return len(self._script)

    def reply(self, context: ResponseContext) -> Reply:
        """Return the next scripted reply (or the fallback's)."""
        if context.out_of_band and self._side:
            side = self._side.popleft()
            return side if isinstance(side, Reply) else side(context)
        if not self._script:
            return self._then.reply(context)
        entry = self._script.popleft()
        return entry if isinstance(entry, Reply) else entry(context)


def last_user_text(items: list[dict[str, Any]]) -> str | None:
    """Text of the last user message: its input_text parts, or its audio transcript."""
    for item in reversed(items):
        if item.get("type") != "message" or item.get("role") != "user":
            continue
        parts = []
        for part in item.get("content") or []:
            if part.get("type") == "input_text":
                parts.append(part.get("text") or "")
            elif part.get("type") == "input_audio" and part.get("transcript"):
                parts.append(part["transcript"])
        return " ".join(p for p in parts if p) or None
    return None
