"""Context, appended messages and tool results -> server conversation items.

:class:`ConversationBridge` is the part of the service that keeps the server
conversation in step with Pipecat: it seeds the conversation from the first context,
sends what later context frames and ``LLMMessagesAppendFrame`` add, delivers function
call results (one ``response.create`` after the last result of a tool round), and
decides when a context frame asks for a response. What to send is decided by
:class:`~pipecat_realtime_openai.service_context.ConversationSync` and
:class:`~pipecat_realtime_openai.core.function_calls.FunctionCallTracker`.

It also keeps a :class:`~pipecat_realtime_openai.core.conversation.ConversationMirror` of the
server conversation, and rebuilds the conversation from it on the new connection after
a reconnect or a session rollover (ids kept, items in order); items made meanwhile wait
behind the restore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipecat.frames.frames import (
    FunctionCallCancelFrame,
    FunctionCallResultFrame,
    LLMMessagesAppendFrame,
    LLMSetToolsFrame,
)
from pipecat.processors.aggregators import async_tool_messages
from pipecat.processors.aggregators.llm_context import LLMContext, standard_message_text
from pipecat.processors.frame_processor import FrameDirection
from pipecat.utils.types import assert_given

from pipecat_realtime_openai.core.conversation import ConversationMirror
from pipecat_realtime_openai.core.restore import restore_events
from pipecat_realtime_openai.protocol.client_events import ConversationItemCreateEvent
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.service_context import (
    ConversationSync,
    downstream_context_wants_response,
    encode_result,
    function_output_item,
    text_message_item,
    to_protocol_item,
)
from pipecat_realtime_openai.settings import to_session_properties

if TYPE_CHECKING:
    from pipecat_realtime_openai.service import OpenAIRealtimeLLMService


TIMED_OUT_OUTPUT = '{"error": "The function call timed out before it returned a result."}'
"""What the model is told about a function call that timed out."""


class ConversationBridge:
    """Sends context, messages and tool results to the server conversation.

    Args:
        service: The service this bridge works for (sending, requesting responses).
    """

    def __init__(self, service: OpenAIRealtimeLLMService) -> None:
        self._service = service
        self.sync = ConversationSync()
        self.mirror = ConversationMirror()
        # Items waiting for the conversation to be seeded or restored.
        self._queued: list[ConversationItem] = []
        # The next connection must rebuild the conversation from the mirror first.
        self._restore_pending = False
        # Ids of restored items whose server echo is not user news.
        self._restored_ids: set[str] = set()

    @property
    def context(self) -> LLMContext | None:
        """The latest context received, if any."""
        return self.sync.context

    def is_restored_echo(self, item_id: str | None, *, done: bool = False) -> bool:
        """Tell whether a server item event only echoes an item the restore recreated.

        Args:
            item_id: The item of a ``conversation.item.added`` / ``.done``.
            done: The event is the item's ``done``, its last event.
        """
        if item_id is None or item_id not in self._restored_ids:
            return False
        if done:
            self._restored_ids.discard(item_id)
        return True

    def on_connection_reset(self, *, keep_conversation: bool) -> None:
        """A connection ended; the next one starts with an empty server conversation.

        Args:
            keep_conversation: Rebuild the conversation on the next connection (a
                reconnect); False starts afresh, seeded from the context again.
        """
        self._restored_ids.clear()
        if keep_conversation:
            self.mirror.drop_unfinished()
            self._restore_pending = True
            return
        self.mirror.clear()
        self._restore_pending = False
        self.sync.on_connection_reset()

    def is_ready(self) -> bool:
        """Whether items can go out now (session configured, conversation seeded/restored)."""
        return (
            self._service._session_ready
            and not self._restore_pending
            and (self.sync.context is None or self.sync.seeded)
        )

    async def restore(self, max_items: int | None = None) -> int:
        """Rebuild the conversation of the lost connection, then send what waited.

        Args:
            max_items: Restore only the most recent items.

        Returns:
            How many items were recreated.
        """
        if not self._restore_pending:
            return 0
        events = restore_events(self.mirror.restore_plan(max_items))
        for event in events:
            if event.item.id:
                self._restored_ids.add(event.item.id)
            await self._service._send(event)
        self._restore_pending = False
        await self._send_queued()
        return len(events)

    async def send_item(self, item: ConversationItem) -> None:
        """Create one conversation item, or queue it until the conversation is seeded.

        Items must follow the seed, or they would land before the history they answer.
        """
        if self.is_ready() and not self._queued:
            await self._send_now(item)
        else:
            self._queued.append(item)

    async def _send_now(self, item: ConversationItem) -> None:
        event_id = self._service._next_event_id("item")
        # Until the server confirms it, the item is sent again should the connection drop.
        self.mirror.on_client_item(event_id, item)
        await self._service._send(ConversationItemCreateEvent(item=item, event_id=event_id))

    async def ensure_seeded(self) -> None:
        """Seed the server conversation from the context once per connection.

        Also sends the messages appended while the conversation was not ready.
        """
        service = self._service
        context = self.sync.context
        if context is not None and not self.sync.seeded:
            service._log_llm_conversation_setup(context)
            params = await service.get_llm_adapter().get_llm_invocation_params(
                context,
                system_instruction=service._settings.system_instruction or None,
                service_tools=service._service_tools(),
            )
            for item in params["messages"]:
                await self._send_now(to_protocol_item(item))
            self.sync.mark_seeded()
            await self._send_queued()
            # The context may carry its own tools and system instruction.
            await service._update_session()
        await self._send_queued()

    async def _send_queued(self) -> None:
        # Items queued meanwhile join the end of the queue, so order is kept.
        while self._queued and self.is_ready():
            await self._send_now(self._queued.pop(0))

    async def on_context(self, context: LLMContext, direction: FrameDirection) -> None:
        """Handle an ``LLMContextFrame``.

        The first context seeds the conversation and asks for a response (unless the
        conversation already started without one: then it is followed, not seeded,
        see ``ConversationSync.join_running_conversation``). Later ones
        deliver what they add; one travelling downstream (the user aggregator running
        the model) asks for a response when it brought something new, or added
        nothing and no response is running (see
        :func:`~pipecat_realtime_openai.service_context.downstream_context_wants_response`:
        a transcript of a spoken turn the server answered by itself asks nothing); one
        travelling upstream (the assistant aggregator) asks only when something was
        delivered since the last response and no tool call is still outstanding,
        because a tool round is answered once, after its last result.

        Args:
            context: The frame's context.
            direction: The frame's direction.
        """
        service = self._service
        if self.sync.set_context(context):
            if not len(self.mirror):
                await service._responses.request()
                return
            # The conversation started without a context (no LLMRunFrame at start):
            # follow it from here instead of seeding a copy of it.
            self.sync.join_running_conversation()
            await service._update_session()
        changes = self.sync.changes()
        for item in changes.items:
            await self.send_item(item)
            service._responses.pending_input = True
        for result in changes.results:
            await self.deliver_tool_output(result.call_id, result.output, run_llm=False)
        if direction == FrameDirection.DOWNSTREAM:
            if downstream_context_wants_response(changes, service._responses.lifecycle.busy):
                await service._responses.request()
        elif service._responses.pending_input and not service._calls.outstanding():
            await service._responses.request()

    async def on_messages_append(self, frame: LLMMessagesAppendFrame) -> None:
        """Add appended messages as items; ask for a response when ``run_llm`` is set."""
        items = []
        for message in frame.messages:
            text = standard_message_text(message)
            role = message.get("role") if isinstance(message, dict) else None
            if text and isinstance(role, str):
                items.append(text_message_item(text, role))
        for item in items:
            await self.send_item(item)
        if items:
            self._service._responses.pending_input = True
        if frame.run_llm:
            await self._service._responses.request()

    async def on_set_tools(self, frame: LLMSetToolsFrame) -> None:
        """Change the tools: sync handlers, then update the session's tools."""
        service = self._service
        # A realtime session gets no context frame per turn, so handlers sync here.
        service._sync_registered_tool_handlers(frame.tools)
        context = self.sync.context
        if context is not None:
            context.set_tools(frame.tools)
        else:
            sp = assert_given(service._settings.session_properties)
            sp.tools = to_session_properties({"tools": frame.tools}).tools
        await service._update_session()

    async def on_function_call_result(self, frame: FunctionCallResultFrame) -> None:
        """Deliver a function call result (intermediate results go in as messages)."""
        output = encode_result(frame.result)
        is_final = frame.properties.is_final if frame.properties else True
        if not is_final:
            # The API takes one output per call: progress goes in as a message.
            message = async_tool_messages.build_intermediate_result_message(
                frame.tool_call_id, output
            )
            await self.send_item(text_message_item(str(message.get("content", "")), "system"))
            self._service._responses.pending_input = True
            return
        run_llm = frame.run_llm is not False and not (
            frame.properties is not None and frame.properties.run_llm is False
        )
        await self.deliver_tool_output(frame.tool_call_id, output, run_llm=run_llm)

    async def on_function_call_cancel(self, frame: FunctionCallCancelFrame) -> None:
        """Settle a cancelled call so the server does not wait for it."""
        calls = self._service._calls
        self.sync.mark_call_handled(frame.tool_call_id)
        if not calls.is_open(frame.tool_call_id):
            return
        if not frame.run_llm:
            # Cancellation comes with an interruption: the user's turn answers it.
            await self.send_item(function_output_item(frame.tool_call_id, "CANCELLED"))
            calls.on_cancel(frame.tool_call_id)
            return
        # Only a call's own timeout asks to run the model: nobody else will, so the
        # model hears why the call failed and answers, or the bot would fall silent.
        await self.send_item(function_output_item(frame.tool_call_id, TIMED_OUT_OUTPUT))
        self._service._responses.pending_input = True
        if calls.on_cancel(frame.tool_call_id):
            await self._service._responses.request()

    async def deliver_tool_output(self, call_id: str, output: str, *, run_llm: bool) -> None:
        """Send one function call output; ask for the response after the last of a round.

        Args:
            call_id: The call answered.
            output: The result text.
            run_llm: False when the result asked not to run the model.
        """
        service = self._service
        self.sync.mark_call_handled(call_id)
        if service._calls.is_open(call_id):
            await self.send_item(function_output_item(call_id, output))
            service._responses.pending_input = True
            if service._calls.on_result(call_id) and run_llm:
                await service._responses.request()
            return
        # The server no longer waits for this call (e.g. it was made on an earlier
        # connection): tell the model the outcome as a message, and let it answer.
        message = async_tool_messages.build_final_result_message(call_id, output)
        await self.send_item(text_message_item(str(message.get("content", "")), "system"))
        service._responses.pending_input = True
        if run_llm:
            await service._responses.request()
