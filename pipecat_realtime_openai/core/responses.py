"""When the model is asked to respond: every rule for ``response.create`` lives here.

The rules, each a need for exactly one ``response.create``:

1. **One at a time.** The server refuses a second request while a response runs
   (``conversation_already_has_active_response``); a request made then is *owed* and
   goes out when the running response ends (see
   :class:`~pipecat_realtime_openai.core.lifecycle.ResponseLifecycle`). A refused
   request is owed again, not lost.
2. **Not before the session is ready.** A request made while connecting, configuring
   or recycling is *deferred* and goes out once the session is ready.
3. **A barge-in cancels what is owed.** The user's own turn brings its answer; an
   owed request would answer twice.
4. **A tool round is answered once**, after the result of its last call (see
   :class:`~pipecat_realtime_openai.core.function_calls.FunctionCallTracker`), unless
   the results asked not to run the model.
5. **A context frame** travelling downstream asks for a response when it brought
   something new, or brought nothing and nothing runs (the user aggregator's "run the
   model now"), but not when it only carries the transcript of a spoken turn the
   server answers by itself (:func:`downstream_context_wants_response`). One
   travelling upstream (the assistant aggregator) asks only when something reached
   the conversation since the last response and no tool call is still out.
6. **After a dropped connection** one request is due when a reply was cut off (and the
   user had not barged in), or a committed turn was still unanswered, unless tool
   calls are still out: their last result asks (:func:`answer_owed_after_drop`).

:class:`ResponseRequests` keeps the state these rules need and answers "send one now?";
the session sends it.
"""

from __future__ import annotations

from pipecat_realtime_openai.core.context_sync import ContextChanges
from pipecat_realtime_openai.core.lifecycle import Closing, ResponseLifecycle


def downstream_context_wants_response(changes: ContextChanges, response_running: bool) -> bool:
    """Decide whether a context frame travelling downstream asks for a response.

    The user aggregator pushes one to run the model. In realtime mode it also pushes
    one after writing the transcript of a spoken turn, which the server answered by
    itself (server VAD): asking again would answer that turn twice.

    Args:
        changes: What the frame brought (from ``ConversationSync.changes``).
        response_running: A response is in progress.

    Returns:
        True when something new reached the server, or when the frame added no
        message at all (an explicit "run the model now") and nothing is running.
    """
    if changes.brings_something:
        return True
    if changes.already_held:
        return False
    return not response_running


def answer_owed_after_drop(
    *,
    response_in_flight: bool,
    response_interrupted: bool,
    user_turn_unanswered: bool,
    open_calls: int,
) -> bool:
    """Decide whether to ask for a response once the conversation is restored.

    Args:
        response_in_flight: A response was requested or being produced when the
            connection was lost (it never finished, so its half-said item is gone).
        response_interrupted: That response had been interrupted by the user, whose
            own turn brings the next answer.
        user_turn_unanswered: The server committed a user turn it was going to answer
            by itself (server VAD) and no response had started yet.
        open_calls: Function calls whose results are still to come; the last result
            asks for the answer, so asking now would answer twice.

    Returns:
        True when exactly one ``response.create`` is due after the restore.
    """
    if open_calls:
        return False
    if response_in_flight and not response_interrupted:
        return True
    return user_turn_unanswered


class ResponseRequests:
    """The state behind the rules above, for one conversation.

    Attributes:
        lifecycle: The current response's state (balanced frame pairs).
        pending_input: Something reached the conversation that no response has taken
            in yet (a tool result, an appended message, a committed turn).
        server_turn_pending: Server VAD committed a user turn that the server answers
            by itself, and its response has not started yet.
    """

    def __init__(self) -> None:
        self.lifecycle = ResponseLifecycle()
        self.pending_input = False
        self.server_turn_pending = False
        self._deferred = False
        self._drop_owed = False
        self._request_event_id: str | None = None

    @property
    def busy(self) -> bool:
        """Whether a response is requested or running."""
        return self.lifecycle.busy

    def want(self, *, ready: bool) -> bool:
        """Something needs a response (rules 1 and 2).

        Args:
            ready: The session is configured.

        Returns:
            True: send one ``response.create`` now (then call :meth:`on_create_sent`).
            False: it was deferred until ready, or is owed behind the running one.
        """
        if not ready:
            self._deferred = True
            return False
        self._drop_owed = False
        return self.lifecycle.on_response_requested()

    def on_create_sent(self, event_id: str) -> None:
        """A ``response.create`` went out; it takes in everything the conversation holds."""
        self.pending_input = False
        self._request_event_id = event_id

    def take_deferred(self) -> bool:
        """The session became ready: whether a deferred request is due now (rule 2)."""
        deferred, self._deferred = self._deferred, False
        return deferred

    def wants_after_upstream_context(self, calls_outstanding: bool) -> bool:
        """An upstream context frame (the assistant aggregator) arrived (rule 5)."""
        return self.pending_input and not calls_outstanding

    def on_created(self, response_id: str) -> bool:
        """``response.created``.

        Returns:
            True when ``LLMFullResponseStartFrame`` is due (a server-initiated response).
        """
        self.pending_input = False
        self.server_turn_pending = False
        return self.lifecycle.on_response_created(response_id)

    def on_done(self, response_id: str) -> tuple[Closing, bool]:
        """``response.done``.

        Returns:
            What to close, and whether the owed request is due now (rules 1 and 3).
        """
        return self._settle(self.lifecycle.on_response_done(response_id))

    def on_out_of_band_done(self, response_id: str) -> tuple[Closing, bool] | None:
        """An out-of-band response ended (rule 1, on a server that runs one at a time).

        Such a server refuses the conversation's request while a side answer runs; the
        request is owed with no conversation response to wait for, so the side
        answer's end is what frees it.

        Returns:
            None when no request was owed that way; else what to close and whether the
            owed request is due now.
        """
        lifecycle = self.lifecycle
        if lifecycle.active is not None or lifecycle.awaiting_creation or not lifecycle.owed:
            return None
        return self._settle(lifecycle.on_response_done(response_id))

    def on_request_error(
        self, event_id: str | None, already_active: bool
    ) -> tuple[Closing, bool] | None:
        """An ``error`` answered a client event.

        Args:
            event_id: The client event id the error names.
            already_active: The error is ``conversation_already_has_active_response``.

        Returns:
            None when the error did not refuse our ``response.create``; else what to
            close and whether a request is due now.
        """
        if event_id is None or event_id != self._request_event_id:
            return None
        return self._settle(self.lifecycle.on_request_failed(already_active))

    def on_barge_in(self) -> Closing:
        """The user talks over the bot: stop the speech now, forget what is owed (rule 3)."""
        closing = self.lifecycle.on_interrupted()
        self._drop_owed = self.lifecycle.owed
        return closing

    def on_connection_lost(self, open_calls: int) -> Closing:
        """The connection dropped and a new one follows (rule 6).

        Args:
            open_calls: Function calls still waiting for results.

        Returns:
            What was still open (its frames are closed now: no ``response.done`` comes).
        """
        active = self.lifecycle.active
        if active is not None:
            in_flight, interrupted = True, not self.lifecycle.accepts_audio(active)
        else:
            in_flight, interrupted = self.lifecycle.awaiting_creation, False
        owed = answer_owed_after_drop(
            response_in_flight=in_flight,
            response_interrupted=interrupted,
            user_turn_unanswered=self.server_turn_pending,
            open_calls=open_calls,
        )
        closing = self.reset()
        if owed:
            self._deferred = True
        return closing

    def reset(self) -> Closing:
        """Forget the connection's responses; an owed request waits for the next session.

        Returns:
            What was still open.
        """
        closing = self.lifecycle.on_disconnected()
        if closing.response_create_due and not self._drop_owed:
            self._deferred = True
        self.pending_input = False
        self.server_turn_pending = False
        self._drop_owed = False
        self._request_event_id = None
        return closing

    def _settle(self, closing: Closing) -> tuple[Closing, bool]:
        due = closing.response_create_due
        if due and self._drop_owed:
            self._drop_owed = False
            due = False
        return closing, due
