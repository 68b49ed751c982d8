"""Inputs from the application: session settings, context, messages, tool results.

The application's side of the conversation reaches the server here: the configuration
it wants (sent as a diff, see
:class:`~pipecat_realtime_openai.core.session_config.SessionConfigState`), its context
(seeded once, then followed: see
:class:`~pipecat_realtime_openai.core.context_sync.ConversationSync`), appended
messages, and the outcomes of the function calls the model made, of which each tool
round is answered once (see :mod:`~pipecat_realtime_openai.core.responses`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipecat_realtime_openai.core.actions import (
    Action,
    OutOfBandResult,
    RepairContext,
    RetrievalFailed,
    Send,
)
from pipecat_realtime_openai.core.connection_steps import ConnectionSteps
from pipecat_realtime_openai.core.context_items import items_for
from pipecat_realtime_openai.core.context_sync import ContextMessage, ContextSnapshot
from pipecat_realtime_openai.core.items import (
    CANCELLED_OUTPUT,
    TIMED_OUT_OUTPUT,
    function_output_item,
    text_message_item,
)
from pipecat_realtime_openai.core.out_of_band import request_properties, tagged
from pipecat_realtime_openai.core.phase import Phase
from pipecat_realtime_openai.core.responses import downstream_context_wants_response
from pipecat_realtime_openai.core.server_events import RETRIEVE_PREFIX
from pipecat_realtime_openai.protocol.client_events import ConversationItemRetrieveEvent
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.protocol.session import ToolChoice


class AppInputs(ConnectionSteps):
    """Applies what the application asks of the session."""

    def session_wanted(self, session: Mapping[str, Any], model: str) -> list[Action]:
        """The configuration the application wants changed (settings, tools, context).

        Only what the server lacks is sent, and only once the session was configured
        (before that, the first ``session.update`` carries everything).

        Args:
            session: The whole wanted session, as a wire dict.
            model: The model of the settings (fields some models refuse are dropped).
        """
        self._desired = dict(session)
        self._model = model
        self._configured = None
        out: list[Action] = []
        self._update_session(out)
        if not self._config.has_sent:
            # The first session.update will carry these formats: audio that comes
            # before it (held while connecting) must already be in them, or it goes
            # out in the old format after the update (24 kHz PCM read as G.711 is noise
            # that the server's VAD takes for speech).
            self._apply_formats(out)
        return out

    def context_changed(
        self, context: ContextSnapshot, *, downstream: bool, run_llm: bool | None = None
    ) -> list[Action]:
        """The application's context, after it changed (an ``LLMContextFrame``).

        The first context seeds the conversation and asks for a response, unless the
        conversation already started without one: then it is followed, not seeded
        (see ``ConversationSync.join_running_conversation``). Later ones deliver what
        they add, and ask for a response by rule 5 of
        :mod:`~pipecat_realtime_openai.core.responses`.

        Args:
            context: The context now.
            downstream: It travels downstream (the user aggregator runs the model);
                False for the assistant aggregator's, upstream.
            run_llm: Ask for a response afterwards (True), or never (False); None
                follows the rules above.
        """
        out: list[Action] = []
        conversation = self._conversation
        if conversation.sync.set_context(context):
            if not len(conversation.mirror):
                # The history goes in now, so a turn the server answers by itself
                # (server VAD) already hears it; the response follows.
                if self._phase.phase.configured:
                    self._seed_if_needed(out)
                if run_llm is not False:
                    self._request_response(out)
                return out
            # The conversation started without a context (no LLMRunFrame at start):
            # follow it from here instead of seeding a copy of it.
            changes = conversation.sync.join_running_conversation(conversation.mirror)
        else:
            changes = conversation.sync.changes(conversation.mirror)
        if changes.edits:
            out.append(RepairContext(tuple(changes.edits)))
        out.extend(Send(e) for e in conversation.apply(changes, self._phase.phase.configured))
        if changes.creates:
            self._responses.pending_input = True
        for result in changes.results:
            self._deliver_tool_output(result.call_id, result.output, run_llm=False, out=out)
        if run_llm is not None:
            if run_llm:
                self._request_response(out)
        elif downstream:
            if downstream_context_wants_response(changes, self._responses.busy):
                self._request_response(out)
        elif self._responses.wants_after_upstream_context(bool(self._calls.outstanding())):
            self._request_response(out)
        return out

    def messages_appended(self, messages: Sequence[ContextMessage], run_llm: bool) -> list[Action]:
        """The application appended messages (``LLMMessagesAppendFrame``).

        Args:
            messages: The messages; those with a role and text become items.
            run_llm: Ask for a response afterwards.
        """
        out: list[Action] = []
        items = [
            text_message_item(m.text, m.role) for m in messages if m.text and m.role is not None
        ]
        for item in items:
            self._add_item(item, out)
        if items:
            self._responses.pending_input = True
        if run_llm:
            self._request_response(out)
        return out

    def function_result(
        self,
        call_id: str,
        output: str,
        *,
        final: bool = True,
        run_llm: bool = True,
        now: float | None = None,
    ) -> list[Action]:
        """A function call returned.

        Args:
            call_id: The call.
            output: Its result as a string.
            final: False for an intermediate result (it goes in as a message: the API
                takes one output per call).
            run_llm: False when the result asks not to run the model.
            now: Clock reading (the call's duration in the turn's timeline).
        """
        out: list[Action] = []
        if final and now is not None:
            self._timeline.tool_ended(call_id, now)
        if self._mcp.is_call(call_id):
            # The server ran this MCP call and holds its output already.
            return out
        if not final:
            text = self._tool_messages.progress(call_id, output)
            self._add_item(text_message_item(text, "system"), out)
            self._responses.pending_input = True
            return out
        self._deliver_tool_output(call_id, output, run_llm=run_llm, out=out)
        return out

    def function_cancelled(
        self, call_id: str, *, run_llm: bool, now: float | None = None
    ) -> list[Action]:
        """A function call was cancelled, so the server does not wait for it.

        Args:
            call_id: The call.
            run_llm: The call's own timeout cancelled it: nobody else will ask, so the
                model hears why the call failed and answers, or the bot would fall
                silent. False: an interruption cancelled it, and the user's turn
                answers.
            now: Clock reading (the call's duration in the turn's timeline).
        """
        out: list[Action] = []
        if now is not None:
            self._timeline.tool_ended(call_id, now)
        self._conversation.sync.mark_call_handled(call_id)
        if not self._calls.is_open(call_id):
            return out
        if not run_llm:
            self._add_item(function_output_item(call_id, CANCELLED_OUTPUT), out)
            # The interruption's own turn answers the round, whatever it asked for.
            self._calls.on_cancel(call_id, wants_response=False)
            return out
        self._add_item(function_output_item(call_id, TIMED_OUT_OUTPUT), out)
        self._responses.pending_input = True
        if self._calls.on_cancel(call_id):
            self._request_response(out)
        return out

    def out_of_band(
        self,
        request_id: str,
        input_items: Sequence[ContextMessage | ConversationItem | Mapping[str, Any]] | None = None,
        *,
        instructions: str | None = None,
        max_output_tokens: int | str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice | None = None,
        output_modalities: Sequence[str] | None = ("text",),
        metadata: Mapping[str, str] | None = None,
        voice: str | Mapping[str, Any] | None = None,
        conversation: str = "none",
    ) -> list[Action]:
        """Ask for a response that stays out of the conversation (``conversation: "none"``).

        It is sent at once, or (one at a time) once no response runs, as the dialect
        allows (:mod:`~pipecat_realtime_openai.core.out_of_band`); it ends as an
        ``OutOfBandResult``. Neither the bot's turn frames, the conversation nor the
        function call runner see it.

        Args:
            request_id: Names the request in its result (unique while it runs).
            input_items: What the response reads instead of the conversation, in
                order: context messages, items, or ``item_reference`` dicts. None
                reads the whole conversation (without adding to it).
            instructions: Instructions for this response only.
            max_output_tokens: Its token limit.
            tools: Wire tools for this response only.
            tool_choice: How it picks tools.
            output_modalities: ``["text"]`` or ``["audio"]`` (None: the session's).
            metadata: String pairs echoed back on the response.
            voice: The voice of an audio answer.
            conversation: Must be ``"none"``.

        Raises:
            ValueError: Arguments the server would refuse, or ``conversation="auto"``
                (see ``out_of_band.CONVERSATION_AUTO_REFUSED``).
        """
        entries: list[ConversationItem | Mapping[str, Any]] | None = None
        if input_items is not None:
            entries = []
            for entry in input_items:
                if not isinstance(entry, ContextMessage):
                    entries.append(entry)
                    continue
                for item in items_for(entry, lambda: ""):
                    # Items of a response's input are no conversation items: no ids.
                    item.id = None
                    entries.append(item)
        properties = tagged(
            request_properties(
                entries,
                conversation=conversation,
                instructions=instructions,
                tools=tools,
                tool_choice=tool_choice,
                output_modalities=output_modalities,
                metadata=metadata,
                max_output_tokens=max_output_tokens,
                voice=voice,
            ),
            request_id,
        )
        if self._phase.phase is Phase.CLOSED:
            return [OutOfBandResult(request_id, None, "the Realtime session is closed")]
        self._out_of_band.ask(request_id, properties)
        out: list[Action] = []
        self._send_out_of_band(out)
        return out

    def cancel_out_of_band(self, request_id: str) -> list[Action]:
        """The application gave up on an out-of-band request: cancel its response.

        Its ``OutOfBandResult`` still comes (cancelled, or at once when it was never
        sent).

        Args:
            request_id: The request.
        """
        events, outcome = self._out_of_band.cancel(request_id)
        out: list[Action] = [Send(event) for event in events if self._phase.phase.connected]
        if outcome is not None:
            out.append(OutOfBandResult(outcome.request_id, outcome.response, outcome.error))
        return out

    def retrieve(self, item_id: str) -> list[Action]:
        """The application asks for an item as the server holds it.

        The answer comes as ``ItemRetrieved`` (or ``RetrievalFailed``); several asks
        for one item share one request.

        Args:
            item_id: The item.
        """
        if not self._phase.phase.connected:
            return [RetrievalFailed(item_id, "the Realtime session is not connected")]
        if item_id in self._retrievals:
            return []
        self._retrievals.add(item_id)
        event_id = RETRIEVE_PREFIX + item_id
        return [Send(ConversationItemRetrieveEvent(item_id=item_id, event_id=event_id))]
