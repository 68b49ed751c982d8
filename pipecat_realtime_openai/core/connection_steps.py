"""The steps that end a connection: error rules, retiring it, and the one reset.

What happens when a connection ends, read in one place: :meth:`ConnectionSteps._report`
applies an error rule (log, report, reconnect or stop),
:meth:`ConnectionSteps._retire` closes a connection so the next one can take over,
and :meth:`ConnectionSteps._reset_connection` forgets everything tied to the
connection that ended, keeping what a reconnect restores. The inputs of the session
that can end a connection build on this class.
"""

from __future__ import annotations

from loguru import logger

from pipecat_realtime_openai.core.actions import (
    Action,
    CloseConnection,
    OutOfBandResult,
    ReportError,
    RetrievalFailed,
)
from pipecat_realtime_openai.core.errors import ErrorAction, ErrorCategoryName, ErrorRule
from pipecat_realtime_openai.core.function_calls import FunctionCallTracker
from pipecat_realtime_openai.core.phase import Phase
from pipecat_realtime_openai.core.session_base import Link, SessionBase


class ConnectionSteps(SessionBase):
    """Error rules, retiring a connection and resetting after one (see the module)."""

    # -- errors --------------------------------------------------------------------------

    def _report(
        self, description: str, rule: ErrorRule, code: str | None, out: list[Action]
    ) -> None:
        """Apply an error rule: log, report, recycle the connection or stop."""
        text = f"{self._dialect.provider} Realtime error {description} ({rule.hint})"
        if rule.action is ErrorAction.IGNORE:
            logger.debug(f"{self._name}: {text}")
        elif rule.action is ErrorAction.RECOVER:
            out.append(ReportError(text, rule.category))
        elif rule.action is ErrorAction.RECONNECT:
            logger.warning(f"{self._name}: {text}")
            self._retire(code or "reconnect asked by the server", out)
        else:
            self._report_fatal(text, rule.category, out)
            # Retrying cannot help: end the connection, and with it the session.
            out.append(CloseConnection(code or "fatal error"))

    def _report_fatal(self, text: str, category: ErrorCategoryName, out: list[Action]) -> None:
        """Report the one fatal error of the session (later ones are dropped)."""
        if self._fatal_reported:
            return
        self._fatal_reported = True
        out.append(ReportError(text, category, fatal=True))

    # -- the connection ----------------------------------------------------------------

    def _retire(self, reason: str, out: list[Action]) -> None:
        phase = self._phase.phase
        if not phase.connected or phase is Phase.RETIRING:
            return
        self._link.retire_reason = reason
        # Nothing more goes out on this connection: audio, items and requests wait.
        self._input.hold()
        self._phase.move(Phase.RETIRING, reason)
        out.append(CloseConnection(reason))

    def _reset_connection(
        self, out: list[Action], *, keep_conversation: bool, push_frames: bool
    ) -> None:
        """Forget everything tied to the connection that ended (the one reset).

        It resets what the server was told about the session; the input audio path
        (held audio is kept for a reconnect); the response in progress (its open
        frames are closed) and the requests owed; assistant playback; the function
        calls whose arguments never completed (or wait for a cut-off reply to end);
        replies in progress; the turn audio;
        pending item retrievals (they fail).

        Args:
            out: Actions so far.
            keep_conversation: A reconnect follows: keep the held audio, the mirror
                (restored on the next connection) and the calls waiting for results
                (answered there); an unfinished answer is asked for again there.
                False starts afresh: the next connection is seeded from the context,
                and results of old calls reach it as messages.
            push_frames: Close the frames of a response in progress (False while the
                pipeline shuts down).
        """
        self._config.reset()
        ended_turns = self._timeline.flush()
        self._mcp.reset()
        self._interim_transcripts.clear()
        self._speaker_segments.clear()
        self._input.reset(keep_held=keep_conversation)
        if keep_conversation:
            self._calls.reset()
            closing = self._responses.on_connection_lost(len(self._calls.outstanding()))
        else:
            self._calls = FunctionCallTracker()
            closing = self._responses.reset()
        if push_frames:
            self._closing_frames(closing, out)
        self._playback.reset()
        self._conversation.on_connection_reset(keep_conversation=keep_conversation)
        self._server_speech = False
        self._turn_audio.reset()
        self._replies.clear()
        for item_id in sorted(self._retrievals):
            out.append(RetrievalFailed(item_id, "the Realtime connection closed"))
        self._retrievals.clear()
        for ended in self._out_of_band.fail_all("the Realtime connection closed"):
            out.append(OutOfBandResult(ended.request_id, ended.response, ended.error))
        self._link = Link()
        if push_frames and self._phase.phase is not Phase.CLOSED:
            # A lost connection cuts the turn short: report it as far as it got. A
            # session the host closes reports nothing more.
            self._turns_ended(ended_turns, out)
