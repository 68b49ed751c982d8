"""Function-call bookkeeping: which calls are pending, and when ``response.create`` is due.

A response can contain several function calls. The model should speak once, after the
results of *all* of them are in, so exactly one ``response.create`` follows the last
result (or cancellation) of a finished response. "Finished" matters because the server
usually sends ``response.function_call_arguments.done`` before ``response.done`` and a
result can come back before the set of calls of that response is final.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A function call whose arguments are complete, ready to run.

    Attributes:
        call_id: Server call id, echoed in the ``function_call_output`` item.
        name: Function name.
        item_id: Id of the ``function_call`` conversation item.
        response_id: Response that produced the call.
        arguments: Parsed arguments (empty when they could not be parsed).
        raw_arguments: Arguments exactly as the model produced them.
        error: Why the arguments could not be used, or None; the caller can send it to
            the model as the call's output so the model can correct itself.
    """

    call_id: str
    name: str
    item_id: str
    response_id: str
    arguments: dict[str, Any]
    raw_arguments: str
    error: str | None = None


def parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """Parse function arguments produced by the model.

    Args:
        raw: The JSON text of the arguments.

    Returns:
        ``(arguments, None)`` on success, else ``({}, error message)``. Blank text means
        no arguments, as models send it for parameterless functions.
    """
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"Invalid JSON arguments: {exc.msg} at position {exc.pos}"
    if not isinstance(value, dict):
        return {}, f"Arguments must be a JSON object, got {type(value).__name__}"
    return value, None


@dataclass(slots=True)
class _Call:
    name: str
    item_id: str
    response_id: str
    arguments_done: bool = False
    # Arguments of a call whose response the user talked over, until it ends.
    held_arguments: str | None = None


@dataclass(slots=True)
class _ResponseCalls:
    call_ids: list[str] = field(default_factory=list)
    done: bool = False
    resolved: int = 0
    wants_response: bool = False


@dataclass
class FunctionCallTracker:
    """Tracks function calls per response to tell when one ``response.create`` is due."""

    _calls: dict[str, _Call] = field(default_factory=dict, init=False, repr=False)
    _responses: dict[str, _ResponseCalls] = field(default_factory=dict, init=False, repr=False)
    _completed: set[str] = field(default_factory=set, init=False, repr=False)

    @property
    def completed_ids(self) -> frozenset[str]:
        """Call ids that got a result or were cancelled (kept across :meth:`reset`)."""
        return frozenset(self._completed)

    def on_call_added(self, call_id: str, name: str, item_id: str, response_id: str) -> None:
        """Register a call announced by ``response.output_item.added``.

        Args:
            call_id: Server call id.
            name: Function name.
            item_id: Id of the ``function_call`` item.
            response_id: Response the call belongs to.
        """
        if call_id in self._calls or call_id in self._completed:
            return
        self._calls[call_id] = _Call(name, item_id, response_id)
        self._responses.setdefault(response_id, _ResponseCalls()).call_ids.append(call_id)

    def on_arguments_done(
        self,
        call_id: str,
        arguments: str,
        *,
        name: str | None = None,
        item_id: str | None = None,
        response_id: str | None = None,
        hold: bool = False,
    ) -> PendingCall | None:
        """Record that a call's arguments are complete.

        Args:
            call_id: Server call id.
            arguments: Arguments JSON text.
            name: Function name; with ``item_id`` and ``response_id`` it registers a
                call whose ``output_item.added`` was missed.
            item_id: Id of the ``function_call`` item.
            response_id: Response the call belongs to.
            hold: The user talked over the response: the call waits for
                :meth:`release_held` (if the server cancels the response, its
                arguments may be cut short, and the call must not run).

        Returns:
            The call to run, or None if the call is unknown, held, or was already
            handed out (a duplicate ``done`` must not run the function twice).
        """
        if call_id not in self._calls and name and item_id and response_id:
            self.on_call_added(call_id, name, item_id, response_id)
        call = self._calls.get(call_id)
        if call is None or call.arguments_done:
            return None
        if hold:
            call.held_arguments = arguments
            return None
        call.arguments_done = True
        parsed, error = parse_arguments(arguments)
        return PendingCall(
            call_id, call.name, call.item_id, call.response_id, parsed, arguments, error
        )

    def release_held(self, response_id: str, *, completed: bool) -> list[PendingCall]:
        """A response ended: its held calls run if it completed after all.

        Call before :meth:`on_response_done`, which drops the calls still unfinished:
        the held calls of a response that did not complete.

        Args:
            response_id: The finished response.
            completed: Its status is ``completed`` (the interruption only raced it).

        Returns:
            The calls to run now.
        """
        released = []
        for call_id, call in list(self._calls.items()):
            arguments = call.held_arguments
            if call.response_id != response_id or arguments is None:
                continue
            call.held_arguments = None
            if completed:
                pending = self.on_arguments_done(call_id, arguments)
                if pending is not None:
                    released.append(pending)
        return released

    def on_response_done(self, response_id: str) -> bool:
        """Mark the set of calls of a response as final.

        Calls whose arguments never completed (the response was cancelled mid-call) are
        dropped: they cannot run and the server expects no output for them.

        Args:
            response_id: The finished response.

        Returns:
            True when every call of the response already has its result, so the single
            ``response.create`` is due now.
        """
        calls = self._responses.get(response_id)
        if calls is None or calls.done:
            return False
        calls.done = True
        for call_id in list(calls.call_ids):
            call = self._calls.get(call_id)
            if call is not None and not call.arguments_done:
                del self._calls[call_id]
                calls.call_ids.remove(call_id)
        return self._settle(response_id)

    def on_result(self, call_id: str, *, wants_response: bool = True) -> bool:
        """Record that a call's result was sent to the server.

        Args:
            call_id: Server call id.
            wants_response: The result asks the model to respond (Pipecat's
                ``run_llm``); the round is answered when any of its results asks.

        Returns:
            True exactly once per response that asked: for the last outstanding call
            of a finished response. The caller then sends one ``response.create``.
        """
        return self._finish(call_id, wants_response)

    def on_cancel(self, call_id: str, *, wants_response: bool = True) -> bool:
        """Record that a call was cancelled; same contract as :meth:`on_result`."""
        return self._finish(call_id, wants_response)

    def is_open(self, call_id: str) -> bool:
        """Tell whether the server still waits for this call's output."""
        return call_id in self._calls

    def outstanding(self) -> list[str]:
        """Return the ids of calls still waiting for a result, oldest first."""
        return list(self._calls)

    def reset(self) -> None:
        """Prepare for a new connection.

        Calls with complete arguments stay open: their items are restored on the new
        connection, so their results can still be answered there. Their responses count
        as finished because no more calls can join them. Completed ids are kept.
        """
        for call_id, call in list(self._calls.items()):
            if not call.arguments_done:
                del self._calls[call_id]
        responses: dict[str, _ResponseCalls] = {}
        for call_id, call in self._calls.items():
            responses.setdefault(call.response_id, _ResponseCalls(done=True)).call_ids.append(
                call_id
            )
        self._responses = responses

    def _finish(self, call_id: str, wants_response: bool) -> bool:
        call = self._calls.pop(call_id, None)
        if call is None:
            return False
        self._completed.add(call_id)
        calls = self._responses.get(call.response_id)
        if calls is not None:
            calls.call_ids.remove(call_id)
            calls.resolved += 1
            calls.wants_response = calls.wants_response or wants_response
        return self._settle(call.response_id)

    def _settle(self, response_id: str) -> bool:
        calls = self._responses.get(response_id)
        if calls is None or not calls.done or calls.call_ids:
            return False
        del self._responses[response_id]
        # A response whose only calls were dropped unfinished had no results to answer,
        # and one whose results all asked not to run the model stays quiet.
        return calls.resolved > 0 and calls.wants_response
