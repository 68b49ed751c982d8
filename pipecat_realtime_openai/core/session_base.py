"""The state of a Realtime client session, and the decision steps its inputs share.

Rules of the core: everything that changes what the client sends, or what the
pipeline is told, is decided in :class:`SessionBase` and the classes of inputs built
on it (or in the small state machines they own). Inputs are typed (parsed server
events, facts from the pipeline, clock readings passed in as arguments); outputs are
:mod:`~pipecat_realtime_openai.core.actions`. No socket, event loop or framework.

The state is declared here, once; the steps that end a connection (error rules,
retiring it, the reset) are in :mod:`~pipecat_realtime_openai.core.connection_steps`;
each kind of input lives in a module of its own
(:mod:`~pipecat_realtime_openai.core.connection_inputs`,
:mod:`~pipecat_realtime_openai.core.server_events`,
:mod:`~pipecat_realtime_openai.core.user_inputs`,
:mod:`~pipecat_realtime_openai.core.app_inputs`), and
:class:`~pipecat_realtime_openai.core.session.RealtimeSession` joins them.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from loguru import logger

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.audio.pipeline import OutputAudioDecoder
from pipecat_realtime_openai.core.actions import (
    Action,
    BotSpeechStopped,
    ConversationSeeded,
    Metrics,
    MetricsOp,
    ResponseEnded,
    ResponseStarted,
    Send,
    SendInputAudio,
    SpeakerSegment,
    TurnEnded,
)
from pipecat_realtime_openai.core.dialect import OPENAI, Dialect
from pipecat_realtime_openai.core.function_calls import FunctionCallTracker
from pipecat_realtime_openai.core.input_audio import InputAudio
from pipecat_realtime_openai.core.items import (
    PlainToolMessages,
    ToolMessages,
    function_output_item,
    text_message_item,
)
from pipecat_realtime_openai.core.lifecycle import Closing
from pipecat_realtime_openai.core.mcp import McpTracker
from pipecat_realtime_openai.core.out_of_band import OutOfBandRequests
from pipecat_realtime_openai.core.phase import Phase, PhaseTracker
from pipecat_realtime_openai.core.playback import PlaybackTracker, TruncateItem
from pipecat_realtime_openai.core.reconnect import (
    ReconnectOptions,
    ReconnectPlanner,
)
from pipecat_realtime_openai.core.responses import ResponseRequests
from pipecat_realtime_openai.core.retirements import session_retirement_warnings
from pipecat_realtime_openai.core.rollover import Activity, RolloverSchedule
from pipecat_realtime_openai.core.server_conversation import ServerConversation
from pipecat_realtime_openai.core.session_config import (
    SessionConfigState,
    input_format,
    output_format,
    turn_detection_disabled,
)
from pipecat_realtime_openai.core.turn_audio import InputAudioTimeline, TurnAudio
from pipecat_realtime_openai.core.turn_timeline import TurnTimeline, TurnTimelines
from pipecat_realtime_openai.core.video import VideoRateLimit
from pipecat_realtime_openai.protocol.base import WIRE_CONTEXT
from pipecat_realtime_openai.protocol.client_events import (
    ClientEvent,
    ConversationItemDeleteEvent,
    ConversationItemTruncateEvent,
    ResponseCreateEvent,
    SessionUpdateEvent,
)
from pipecat_realtime_openai.protocol.items import ConversationItem
from pipecat_realtime_openai.protocol.session import ImageDetail, SessionProperties

ContextSeed = Literal["items", "packed"]


def resumption_enabled(session: Mapping[str, Any]) -> bool:
    """Whether a session wire dict asks the server to keep its conversation (xAI)."""
    resumption = session.get("resumption")
    return isinstance(resumption, Mapping) and resumption.get("enabled") is True


"""How the first context reaches the server (see ``SessionBase``)."""


@dataclass(slots=True)
class Link:
    """What the session knows of the current connection; a new connection starts afresh.

    Attributes:
        opened_at: Clock reading when it opened.
        configuring_event_id: Event id of the ``session.update`` whose confirmation
            makes the session ready.
        retire_reason: Why it is being closed on purpose, once it is.
    """

    opened_at: float = 0.0
    configuring_event_id: str | None = None
    retire_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Outage:
    """A stretch without a configured connection: since when, and why it began."""

    started_at: float
    reason: str


class SessionBase:
    """The state of one Realtime client session, and the steps its inputs share.

    Use :class:`~pipecat_realtime_openai.core.session.RealtimeSession`; the classes of
    its inputs derive from this one, which declares all the state, once.

    Args:
        session: The session configuration the client wants, as a wire dict (what
            ``session.update`` would carry with nothing sent yet: instructions and
            tools included).
        model: The model of the connection (some fields depend on it).
        name: Prefix of log lines.
        reconnect: Reconnect, keepalive and rollover options.
        batch_ms: Audio per ``input_audio_buffer.append``.
        max_pending_audio_secs: User audio held while the session is not ready.
        preroll_secs: Manual-mode pre-roll, or None to size it from the VAD.
        video_max_fps: Most video frames sent per second.
        video_detail: Image detail of video frames.
        tool_messages: Wording of tool news sent as messages.
        context_seed: How the first context reaches the server: ``items``, one
            conversation item per message (so later edits apply item by item), or
            ``packed``, the whole history in one user message, as Pipecat's adapter
            packs it (for models that lose their audio output after many text items).
        rng: Source of backoff jitter (seed it in tests).
        dialect: The provider's way of speaking the protocol (OpenAI's by default).
        today: Today's date (for warnings about models that shut down).
        sideband: The connection controls a call the server carries (SIP, WebRTC):
            no audio either way, the server's turns, nothing restored on a reconnect
            (see :mod:`~pipecat_realtime_openai.core.sideband`).
    """

    def __init__(
        self,
        session: Mapping[str, Any],
        *,
        model: str,
        name: str = "RealtimeSession",
        reconnect: ReconnectOptions | None = None,
        batch_ms: int = 60,
        max_pending_audio_secs: float = 10.0,
        preroll_secs: float | None = None,
        video_max_fps: float = 1.0,
        video_detail: ImageDetail = "auto",
        tool_messages: ToolMessages | None = None,
        context_seed: ContextSeed = "items",
        rng: random.Random | None = None,
        dialect: Dialect = OPENAI,
        today: Callable[[], date] = date.today,
        sideband: bool = False,
    ) -> None:
        self._name = name
        self._sideband = sideband
        self._dialect = dialect
        self._today = today
        # Each retiring model is named once per service, not on every session update.
        self._retirements_told: set[str] = set()
        self._told_turn_audio_budget = False
        self._phase = PhaseTracker(name)
        self._event_ids = itertools.count(1)
        # The configuration wanted, and what the server was told on this connection.
        self._desired: dict[str, Any] = dict(session)
        self._model = model
        self._configured: SessionProperties | None = None
        self._config = SessionConfigState()
        self._link = Link()
        self._fatal_reported = False
        # Staying connected.
        self._options = reconnect if reconnect is not None else ReconnectOptions()
        self._planner = ReconnectPlanner(self._options, rng)
        duration = self._options.max_session_duration
        # A sideband socket's limit is the call's: a new socket would not reset it.
        self._schedule = (
            RolloverSchedule(duration, self._options.rollover_grace)
            if duration is not None and not sideband
            else None
        )
        self._outage: Outage | None = None
        self.reconnects = 0
        """Reconnects completed so far (for diagnostics and benchmarks)."""
        self.last_downtime: float | None = None
        """Downtime of the latest reconnect, in seconds."""
        # User input.
        props = self._configured_session()
        keep_ms = self._options.max_turn_audio_secs * 1000
        self._turn_audio = TurnAudio(InputAudioTimeline(input_format(props), keep_ms))
        self._input = InputAudio(
            input_format(props),
            self._turn_audio,
            batch_ms=batch_ms,
            max_pending_secs=max_pending_audio_secs,
            preroll_secs=preroll_secs,
        )
        self._input.set_manual_turns(turn_detection_disabled(props))
        self.video_input_paused = False
        """Video frames are not sent while True."""
        self._video = VideoRateLimit(video_max_fps)
        self.video_detail: ImageDetail = video_detail
        """Image detail of video frames."""
        self._server_speech = False
        self._local_speech = False
        # The latest interim transcript of each user item still being transcribed.
        self._interim_transcripts: dict[str, str] = {}
        self._speaker_segments: dict[str, list[SpeakerSegment]] = {}
        # Assistant output.
        out = output_format(props)
        self._decoder = OutputAudioDecoder(out)
        self._playback = PlaybackTracker(bytes_per_ms=out.bytes_per_ms)
        self._timeline = TurnTimelines()
        self._responses = ResponseRequests()
        # Text of each reply being produced, remembered at response.done so the context
        # sync recognises the assistant message the aggregator writes for it.
        self._replies: dict[str, list[str]] = {}
        # The conversation.
        self._calls = FunctionCallTracker()
        self._mcp = McpTracker()
        self._conversation = ServerConversation(self._next_event_id, name)
        self._keep_turn_audio_in(self._input.target)
        self._packed_seed = context_seed == "packed"
        self._tool_messages: ToolMessages = (
            tool_messages if tool_messages is not None else PlainToolMessages()
        )
        self._retrievals: set[str] = set()
        self._out_of_band = OutOfBandRequests(concurrent=dialect.concurrent_out_of_band)
        # The server's id of the conversation (``conversation.created``), for resumption.
        self._conversation_id: str | None = None

    # -- what the host may read -----------------------------------------------------

    @property
    def phase(self) -> Phase:
        """Where the session is."""
        return self._phase.phase

    @property
    def dialect(self) -> Dialect:
        """The provider's way of speaking the protocol."""
        return self._dialect

    @property
    def sideband(self) -> bool:
        """Whether the session controls a call the server carries (no audio here)."""
        return self._sideband

    @property
    def resumable_conversation(self) -> str | None:
        """The conversation the next connection asks the server for, if it can resume one.

        Set when the provider keeps conversations across connections (xAI) and the
        wanted session enables ``resumption``.
        """
        if not (self._dialect.resumes_conversation and resumption_enabled(self._desired)):
            return None
        return self._conversation_id

    @property
    def audio_input_paused(self) -> bool:
        """User audio is not sent while True."""
        return self._input.paused

    @audio_input_paused.setter
    def audio_input_paused(self, paused: bool) -> None:
        self._input.paused = paused

    @property
    def manual_turns(self) -> bool:
        """Whether server turn detection is off, so local turn frames drive turns.

        Never on a sideband connection: the pipeline has none of the call's audio.
        """
        return not self._sideband and turn_detection_disabled(self._effective())

    @property
    def rollover_enabled(self) -> bool:
        """Whether connections are recycled before the server's session limit."""
        return self._schedule is not None

    @property
    def options(self) -> ReconnectOptions:
        """The reconnect, keepalive and rollover options."""
        return self._options

    @property
    def input_audio(self) -> InputAudio:
        """The user audio path (read its ``held_ms`` / ``sent_bytes`` for diagnostics)."""
        return self._input

    @property
    def conversation(self) -> ServerConversation:
        """The client's side of the server conversation (mirror, context sync)."""
        return self._conversation

    @property
    def playback(self) -> PlaybackTracker:
        """Assistant audio received and played, for truncation."""
        return self._playback

    @property
    def timeline(self) -> TurnTimelines:
        """The timeline of each turn; the host records the first pushes of a reply."""
        return self._timeline

    # -- shared steps -----------------------------------------------------------------

    @staticmethod
    def _turns_ended(done: list[TurnTimeline], out: list[Action]) -> None:
        out.extend(TurnEnded(timeline) for timeline in done)

    def _next_event_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._event_ids)}"

    def _configured_session(self) -> SessionProperties:
        if self._configured is None:
            self._configured = SessionProperties.model_validate(self._desired, context=WIRE_CONTEXT)
        return self._configured

    def _effective(self) -> SessionProperties:
        """The session configuration the server works with (see ``SessionConfigState``)."""
        # Once something was sent, the merged view of it: the wanted session need not
        # be validated again after each change of it.
        sent = self._config.sent_session()
        return sent if sent is not None else self._configured_session()

    def _update_session(self, out: list[Action], *, configure: bool = False) -> None:
        """Send what the server lacks of the wanted configuration.

        Args:
            out: Actions so far.
            configure: ``session.created``: send the whole configuration. Otherwise
                nothing goes out before that first update, which carries everything.
        """
        phase = self._phase.phase
        if not phase.connected or phase is Phase.RETIRING:
            return
        if configure:
            self._config.reset()
        elif not self._config.has_sent:
            return
        plan = self._config.plan(self._desired, self._model)
        warnings = plan.warnings
        if plan.session is not None:
            warnings = warnings + self._dialect.session_warnings(plan.session)
            if self._dialect.openai_models:
                warnings = warnings + self._retirement_warnings(plan.session)
        for warning in warnings:
            logger.warning(f"{self._name}: {warning}")
        if plan.session is None:
            return
        event_id = self._next_event_id("session")
        if phase is Phase.CONFIGURING:
            self._link.configuring_event_id = event_id
        session = SessionProperties.model_validate(plan.session, context=WIRE_CONTEXT)
        out.append(
            Send(
                SessionUpdateEvent(session=session, event_id=event_id),
                span="llm_setup" if configure else None,
            )
        )
        self._config.on_sent(plan.session)
        self._apply_formats(out)

    def _retirement_warnings(self, session: Mapping[str, Any]) -> list[str]:
        told = self._retirements_told
        found = session_retirement_warnings(self._model, session, self._today())
        fresh = [warning for model, warning in found.items() if model not in told]
        told.update(found)
        return fresh

    def _apply_formats(self, out: list[Action]) -> None:
        props = self._effective()
        target = input_format(props)
        if target != self._input.target:
            self._keep_turn_audio_in(target)
            self._input.retarget(target)
            out.append(SendInputAudio())
        self._input.set_manual_turns(turn_detection_disabled(props))
        self._set_output_format(output_format(props))

    def _set_output_format(self, fmt: AudioFormatSpec) -> None:
        if fmt != self._decoder.format:
            self._decoder = OutputAudioDecoder(fmt)
            self._playback = PlaybackTracker(bytes_per_ms=fmt.bytes_per_ms)

    def _request_response(self, out: list[Action], *, start_metrics: bool = True) -> None:
        """Something needs the model to respond: one ``response.create``, now or later."""
        if not self._responses.want(ready=self._phase.phase.configured):
            return
        self._seed_if_needed(out)
        event_id = self._next_event_id("resp")
        self._responses.on_create_sent(event_id)
        out.append(ResponseStarted())
        if start_metrics:
            out.append(Metrics(MetricsOp.START))
        out.append(Send(ResponseCreateEvent(event_id=event_id), span="llm_request"))

    def _seed_if_needed(self, out: list[Action]) -> None:
        """Seed the server conversation from the context once per conversation."""
        conversation = self._conversation
        if conversation.sync.needs_seed:
            out.append(ConversationSeeded())
            out.extend(Send(event) for event in conversation.seed(packed=self._packed_seed))
        # What waited for the seed (or a restore) follows it.
        out.extend(Send(event) for event in conversation.flush(self._phase.phase.configured))

    def _send_out_of_band(self, out: list[Action]) -> None:
        """Send the out-of-band requests the server may take now (see ``out_of_band``)."""
        if self._phase.phase is not Phase.READY:
            return
        out.extend(Send(event) for event in self._out_of_band.next_events(self._responses.busy))

    def _settle(self, closing: Closing, due: bool, out: list[Action]) -> None:
        """Close what a finished response left open; send the request it owed."""
        self._closing_frames(closing, out)
        if due:
            self._request_response(out)

    @staticmethod
    def _closing_frames(closing: Closing, out: list[Action]) -> None:
        if closing.tts_stopped:
            out.append(BotSpeechStopped())
        if closing.full_response_end:
            out.append(ResponseEnded())

    def _keep_turn_audio(self, item_id: str, audio: bytes | None) -> None:
        if not audio or not self._conversation.mirror.on_input_audio(item_id, audio):
            return
        if not self._told_turn_audio_budget:
            # Once per session: with transcription off this is the steady state of a
            # long call, not a fault.
            self._told_turn_audio_budget = True
            logger.info(
                f"{self._name}: the audio of spoken turns without a transcript reached "
                f"max_untranscribed_audio_secs "
                f"({self._options.max_untranscribed_audio_secs:g} s); the oldest turns' "
                "audio is dropped, and a restore leaves those turns out (input "
                "transcription would restore them as text)"
            )

    def _keep_turn_audio_in(self, spec: AudioFormatSpec) -> None:
        """Finished turns' audio is kept in ``spec`` from now on, within its budget."""
        mirror = self._conversation.mirror
        # Audio kept in another format can no longer be restored.
        mirror.forget_input_audio()
        mirror.max_input_audio_bytes = int(
            self._options.max_untranscribed_audio_secs * spec.bytes_per_second
        )

    def _activity(self) -> Activity:
        return Activity(
            response_running=self._responses.busy,
            user_speaking=self._server_speech or self._local_speech,
            bot_speaking=self._playback.is_playing,
        )

    def _add_item(self, item: ConversationItem, out: list[Action]) -> None:
        """Create an item in the server conversation, now or once it may go out."""
        configured = self._phase.phase.configured
        out.extend(Send(event) for event in self._conversation.add(item, configured))

    def _deliver_tool_output(
        self, call_id: str, output: str, *, run_llm: bool, out: list[Action]
    ) -> None:
        """Send one function call output; ask for the response after the last of a round.

        Args:
            call_id: The call answered.
            output: The result text.
            run_llm: False when the result asked not to run the model.
            out: Actions so far.
        """
        self._conversation.sync.mark_call_handled(call_id)
        if self._calls.is_open(call_id):
            self._add_item(function_output_item(call_id, output), out)
            self._responses.pending_input = True
            if self._calls.on_result(call_id, wants_response=run_llm):
                self._request_response(out)
            return
        # The server no longer waits for this call (e.g. it was made on an earlier
        # connection): tell the model the outcome as a message, and let it answer.
        text = self._tool_messages.late_result(call_id, output)
        self._add_item(text_message_item(text, "system"), out)
        self._responses.pending_input = True
        if run_llm:
            self._request_response(out)

    def _barge_in(self, now: float, out: list[Action], *, timed: bool = True) -> None:
        """The user talks over the bot: truncate what was not heard, stop the speech.

        Runs on server VAD's ``speech_started`` and again on the interruption that
        follows; the second run finds nothing left to do.

        Args:
            now: Clock reading.
            out: Actions so far.
            timed: Record it in the turn's timeline. Not for the pipeline's echo of a
                server VAD barge-in: it can arrive after the next reply started.
        """
        playback = self._playback
        if timed:
            received_ms = sum(item.received_ms(playback.bytes_per_ms) for item in playback.items)
            heard_ms = int(min(playback.played_ms(now), received_ms))
            self._turns_ended(self._timeline.interrupted(now, heard_ms), out)
        # A sideband call's audio is played by the server, which cuts it itself.
        steps = [] if self._sideband else playback.plan_interruption(now)
        for step in steps:
            if isinstance(step, TruncateItem) and not self._dialect.truncates_audio:
                # The server keeps the reply whole: what the user heard of it cannot
                # be marked, and deleting it would erase what they did hear.
                continue
            if isinstance(step, TruncateItem):
                self._conversation.mirror.on_truncate_sent(
                    step.item_id, step.audio_received_ms, step.audio_end_ms
                )
                event: ClientEvent = ConversationItemTruncateEvent(
                    item_id=step.item_id,
                    content_index=step.content_index,
                    audio_end_ms=step.audio_end_ms,
                )
            else:
                self._conversation.mirror.on_unheard(step.item_id)
                event = ConversationItemDeleteEvent(item_id=step.item_id)
            out.append(Send(event))
        closing = self._responses.on_barge_in()
        if closing.tts_stopped:
            out.append(BotSpeechStopped())
