"""Inputs from the connection loop: a connection opened, ended, is recycled, is closed.

The host's connection loop dials, receives and sleeps; every decision about it is
here: what a lost connection resets and what the next one restores (see
:meth:`SessionBase._reset_connection`), whether to try again and after how long
(:class:`~pipecat_realtime_openai.core.reconnect.ReconnectPlanner`), when to recycle
a connection before the server's session limit
(:class:`~pipecat_realtime_openai.core.rollover.RolloverSchedule`), and what to
report when giving up.
"""

from __future__ import annotations

import dataclasses

from loguru import logger

from pipecat_realtime_openai.core.actions import Action, CloseConnection, Notify
from pipecat_realtime_openai.core.connection_steps import ConnectionSteps
from pipecat_realtime_openai.core.errors import classify_error, classify_http_status
from pipecat_realtime_openai.core.phase import Phase
from pipecat_realtime_openai.core.reconnect import ConnectionEnd, ReconnectInfo, Retry, Stop
from pipecat_realtime_openai.core.session_base import Link, Outage
from pipecat_realtime_openai.core.sideband import call_ended


class ConnectionInputs(ConnectionSteps):
    """Inputs from the connection loop: opened, ended, recycled, closed."""

    def start(self) -> None:
        """The host starts the session: a connection is opened next."""
        if self._phase.phase is Phase.CLOSED:
            self._phase.move(Phase.CONNECTING, "started")

    def connection_opened(self, now: float) -> list[Action]:
        """A connection opened (the server sends ``session.created`` next).

        A sideband connection is configured at once: its server may send no
        ``session.created``, and the call is already running.

        Args:
            now: Clock reading (connection age counts from it).
        """
        if self._phase.phase is not Phase.CONNECTING:
            return [CloseConnection("the session is closed")]
        self._link = Link(opened_at=now)
        self._phase.move(Phase.CONFIGURING, "connected")
        out: list[Action] = []
        if self._sideband:
            self._update_session(out, configure=True)
        return out

    def connection_ended(self, end: ConnectionEnd, now: float) -> tuple[Retry | Stop, list[Action]]:
        """A connection closed, or an attempt to open one failed: what comes next.

        Args:
            end: How it ended, as the connection loop saw it.
            now: Clock reading.

        Returns:
            Retry (after a delay) or Stop, and the actions to take first.
        """
        out: list[Action] = []
        phase = self._phase.phase
        if phase is Phase.CLOSED:
            return Stop(), out
        if self._sideband and call_ended(
            end, closed_on_purpose=self._link.retire_reason is not None
        ):
            return self._call_ended(end, out)
        if phase.connected:
            description = self._link.retire_reason or end.description
            self._reset_connection(out, keep_conversation=True, push_frames=True)
            self._phase.move(Phase.CONNECTING, description)
            end = ConnectionEnd(description, end.reason)
        step = self._planner.after(dataclasses.replace(end, fatal_reported=self._fatal_reported))
        if isinstance(step, Stop):
            self._stop(step, end, out)
            return step, out
        if self._outage is None:
            self._outage = Outage(now, end.description)
        logger.warning(
            f"{self._name}: {end.description}; reconnecting "
            f"(attempt {step.attempt}, after {step.delay:.2f} s)"
        )
        info = ReconnectInfo(step.attempt, self._outage.reason, delay=step.delay)
        out.append(Notify("on_reconnecting", (info,)))
        return step, out

    def _call_ended(self, end: ConnectionEnd, out: list[Action]) -> tuple[Stop, list[Action]]:
        """The server ended the call (hang-up, reject, transfer): stop without an error."""
        logger.info(f"{self._name}: the call ended ({end.description})")
        if self._phase.phase.connected:
            self._reset_connection(out, keep_conversation=False, push_frames=True)
        self._input.reset()
        self._outage = None
        self._phase.move(Phase.CLOSED, "the call ended")
        out.append(Notify("on_call_ended", (end.description,)))
        return Stop(), out

    def _stop(self, step: Stop, end: ConnectionEnd, out: list[Action]) -> None:
        if step.report != "none":
            # Nothing will take the held audio any more.
            self._input.reset()
        if step.report == "fatal":
            status = end.reason.http_status
            code: str | None
            if status is not None:
                rule, code = classify_http_status(status), f"http_{status}"
            else:
                code = end.reason.error_code
                rule = classify_error(code, end.reason.error_type)
            self._report(end.description, rule, code, out)
        elif step.report == "gave_up":
            reason = self._outage.reason if self._outage is not None else end.description
            self._report_fatal(
                f"OpenAI Realtime connection lost ({reason}) and "
                f"{self._planner.attempt} reconnect attempts failed (last: {end.description}). "
                "Check the network and https://status.openai.com, or allow more attempts "
                "with ReconnectOptions(max_retries=...).",
                "connectivity",
                out,
            )
        self._phase.move(Phase.CLOSED, f"not reconnecting ({step.report})")

    def rollover_wait(self, now: float) -> float | None:
        """Seconds until the connection should be recycled, or None to do it now.

        A due rollover waits for a quiet moment (no response, nobody speaking), up to
        its grace period.

        Args:
            now: Clock reading.
        """
        if self._schedule is None:
            return float("inf")
        age = now - self._link.opened_at
        wait = self._schedule.next_check(age, self._activity())
        if wait is None:
            logger.info(
                f"{self._name}: recycling the Realtime connection after {age:.1f} s "
                f"(max_session_duration {self._schedule.max_session_duration:g} s)"
            )
        return wait

    def retire(self, reason: str) -> list[Action]:
        """Close the connection on purpose; the next one follows at once and restores.

        From here on nothing more goes out on it: requests and items wait for the next
        session (a response asked for now must not start on a connection that is
        going away) and user audio is held.

        Args:
            reason: Why, in words (``session rollover``, ``session_expired``).
        """
        out: list[Action] = []
        self._retire(reason, out)
        return out

    def close(self, *, push_frames: bool) -> list[Action]:
        """The host closes the session (pipeline end, or a conversation reset).

        Args:
            push_frames: Close the frames of a response in progress (False while
                the pipeline shuts down).
        """
        out: list[Action] = []
        self._phase.move(Phase.CLOSED, "closed by the host")
        self._reset_connection(out, keep_conversation=False, push_frames=push_frames)
        return out
