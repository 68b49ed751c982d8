"""The timeline of each turn: when the user spoke, when the bot answered, what it cost.

A voice bot is tuned by a few figures per turn: how long after the user stopped
speaking the server committed the turn, how long until the first reply audio, how long
the reply took, whether the user cut it off and how much of it they heard, and how
long each tool call ran. :class:`TurnTimelines` collects them from the facts the
session sees (each with the clock reading it came with) and hands back one finished
:class:`TurnTimeline` per turn.

A turn opens when the user starts speaking, or with a response that nothing spoken
asked for (a typed message). It stays open across a tool round (a response that calls
tools is followed by the one that uses their results) and ends when its last response
is done and, if the transport is playing the reply, once playback stops or the user
talks over it; the next turn opening, or the connection ending, ends it too.

Times are monotonic seconds as the host reads them; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True, slots=True)
class ToolCallTiming:
    """One tool call of a turn.

    Attributes:
        name: The function's name.
        call_id: The server's call id.
        started: When it was handed to the application.
        ended: When its result (or cancellation) came back, or None if it never did.
    """

    name: str
    call_id: str
    started: float
    ended: float | None = None

    @property
    def duration(self) -> float | None:
        """Seconds the call ran, or None while it has no result."""
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True, slots=True)
class TurnInterruption:
    """The user talked over the reply.

    Attributes:
        at: When the interruption was seen.
        heard_ms: Milliseconds of the reply the user heard (the truncation point; 0 when
            no reply audio had played).
    """

    at: float
    heard_ms: int


@dataclass(frozen=True, slots=True)
class TurnTimeline:
    """What happened in one turn, and when (monotonic seconds).

    Timestamps are None when the turn had no such moment: a typed turn has no user
    speech, a text-only reply no audio.

    Attributes:
        index: The turn's number in the session, from 1.
        user_item_ids: Items of the user's speech (``input_audio_buffer.committed``).
        response_ids: The responses of the turn (two or more with a tool round).
        reply_item_ids: The reply message items (from ``response.done``).
        user_speech_started: The user started speaking (server VAD's
            ``speech_started``, or the pipeline's turn frames in manual mode).
        user_speech_stopped: The user stopped speaking.
        committed: The server committed the user's audio as a turn.
        response_created: The first response of the turn was created.
        first_audio_received: The first reply audio delta arrived.
        first_audio_pushed: The first reply audio was pushed into the pipeline.
        first_text: The first text of a text reply was pushed.
        reply_done: The last response of the turn was done (``response.done``).
        playback_stopped: The transport finished playing the reply, when it said so.
        interruption: How the user cut the reply off, if they did.
        tool_calls: The turn's tool calls, in the order they started.
        cancelled: The last response ended as ``cancelled`` (or the connection ended
            before it finished).
    """

    index: int
    user_item_ids: tuple[str, ...] = ()
    response_ids: tuple[str, ...] = ()
    reply_item_ids: tuple[str, ...] = ()
    user_speech_started: float | None = None
    user_speech_stopped: float | None = None
    committed: float | None = None
    response_created: float | None = None
    first_audio_received: float | None = None
    first_audio_pushed: float | None = None
    first_text: float | None = None
    reply_done: float | None = None
    playback_stopped: float | None = None
    interruption: TurnInterruption | None = None
    tool_calls: tuple[ToolCallTiming, ...] = ()
    cancelled: bool = False

    @property
    def spoken(self) -> bool:
        """Whether the user spoke this turn (False for a typed one)."""
        return self.user_speech_started is not None or self.user_speech_stopped is not None

    @property
    def first_audio(self) -> float | None:
        """The first reply audio: pushed, or received when the push was not seen."""
        if self.first_audio_pushed is not None:
            return self.first_audio_pushed
        return self.first_audio_received

    @property
    def stop_to_commit(self) -> float | None:
        """Seconds from the user stopping to the server committing the turn."""
        return _between(self.user_speech_stopped, self.committed)

    @property
    def commit_to_first_audio(self) -> float | None:
        """Seconds from the commit to the first reply audio."""
        return _between(self.committed, self.first_audio)

    @property
    def voice_to_voice(self) -> float | None:
        """Seconds from the user stopping to the first reply audio (what callers feel)."""
        return _between(self.user_speech_stopped, self.first_audio)

    @property
    def created_to_first_audio(self) -> float | None:
        """Seconds from the first response's creation to the first reply audio."""
        return _between(self.response_created, self.first_audio)

    @property
    def first_audio_to_done(self) -> float | None:
        """Seconds from the first reply audio to the last ``response.done``."""
        return _between(self.first_audio, self.reply_done)

    @property
    def tool_seconds(self) -> float:
        """Seconds spent in tool calls that returned (summed)."""
        return sum(call.duration or 0.0 for call in self.tool_calls)

    def events(self) -> list[tuple[str, float]]:
        """The turn's moments in time order, as ``(name, time)`` pairs.

        Names: ``user_speech_started``, ``user_speech_stopped``, ``committed``,
        ``response_created``, ``first_audio_received``, ``first_audio_pushed``,
        ``first_text``, ``tool_started:<name>``, ``tool_ended:<name>``,
        ``interrupted``, ``reply_done``, ``playback_stopped``.
        """
        found: list[tuple[str, float]] = []
        for name in _MOMENTS:
            value = getattr(self, name)
            if value is not None:
                found.append((name, value))
        for call in self.tool_calls:
            found.append((f"tool_started:{call.name}", call.started))
            if call.ended is not None:
                found.append((f"tool_ended:{call.name}", call.ended))
        if self.interruption is not None:
            found.append(("interrupted", self.interruption.at))
        # A stable sort keeps the declared order for moments with the same reading.
        return sorted(found, key=lambda pair: pair[1])


_MOMENTS = (
    "user_speech_started",
    "user_speech_stopped",
    "committed",
    "response_created",
    "first_audio_received",
    "first_audio_pushed",
    "first_text",
    "reply_done",
    "playback_stopped",
)


def _between(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return end - start


class _Stage(Enum):
    WAITING = "waiting"  # for its (next) response
    RESPONDING = "responding"  # a response of it runs
    ANSWERED = "answered"  # its last response is done; the reply may still play


@dataclass(slots=True)
class _Draft:
    """A turn being recorded (mutable; :meth:`finish` freezes it)."""

    index: int
    stage: _Stage = _Stage.WAITING
    user_item_ids: list[str] = field(default_factory=list)
    response_ids: list[str] = field(default_factory=list)
    running: set[str] = field(default_factory=set)
    reply_item_ids: list[str] = field(default_factory=list)
    user_speech_started: float | None = None
    user_speech_stopped: float | None = None
    committed: float | None = None
    response_created: float | None = None
    first_audio_received: float | None = None
    first_audio_pushed: float | None = None
    first_text: float | None = None
    reply_done: float | None = None
    playback_stopped: float | None = None
    interruption: TurnInterruption | None = None
    tool_calls: dict[str, ToolCallTiming] = field(default_factory=dict)
    cancelled: bool = False
    waits_for_playback: bool = False

    def finish(self) -> TurnTimeline:
        return TurnTimeline(
            index=self.index,
            user_item_ids=tuple(self.user_item_ids),
            response_ids=tuple(self.response_ids),
            reply_item_ids=tuple(self.reply_item_ids),
            user_speech_started=self.user_speech_started,
            user_speech_stopped=self.user_speech_stopped,
            committed=self.committed,
            response_created=self.response_created,
            first_audio_received=self.first_audio_received,
            first_audio_pushed=self.first_audio_pushed,
            first_text=self.first_text,
            reply_done=self.reply_done,
            playback_stopped=self.playback_stopped,
            interruption=self.interruption,
            tool_calls=tuple(self.tool_calls.values()),
            cancelled=self.cancelled or bool(self.running),
        )


class TurnTimelines:
    """Records the timeline of each turn; each input returns the turns it finished.

    The session calls it with what it sees; the host calls the two output hooks
    (:meth:`audio_pushed`, :meth:`text_pushed`) guarded by :attr:`awaiting_push` and
    :attr:`awaiting_text`, so a chunk that changes nothing costs one attribute test.
    """

    def __init__(self) -> None:
        self._count = 0
        # The turn new facts belong to.
        self._current: _Draft | None = None
        # The turn the user's speech left behind while its reply still ran or played
        # (the interruption that follows the speech is about it).
        self._left: _Draft | None = None
        self._by_response: dict[str, _Draft] = {}
        self._by_call: dict[str, _Draft] = {}
        # What the hot paths test, plain attributes so a chunk costs no call: responses
        # whose turn has no first audio (text) yet, and the turn whose first audio
        # arrived but whose push is not recorded yet.
        self.awaiting_audio: dict[str, _Draft] = {}
        """Responses whose turn has reply audio to come (empty: nothing to record)."""
        self.awaiting_text: dict[str, _Draft] = {}
        """Responses whose turn has reply text to come (empty: nothing to record)."""
        self.awaiting_push: _Draft | None = None
        """The turn whose first reply audio arrived and was not pushed yet."""

    # -- the user ------------------------------------------------------------------------

    def user_started(self, now: float) -> list[TurnTimeline]:
        """The user started speaking: a new turn, unless the current one awaits its answer."""
        done: list[TurnTimeline] = []
        draft = self._current
        if draft is None or draft.stage is not _Stage.WAITING or draft.response_ids:
            draft = self._open(done)
        if draft.user_speech_started is None:
            draft.user_speech_started = now
        return done

    def user_stopped(self, now: float) -> list[TurnTimeline]:
        """The user stopped speaking (the latest stop of the turn counts)."""
        done: list[TurnTimeline] = []
        draft = self._current
        if draft is None or draft.stage is not _Stage.WAITING:
            draft = self._open(done)
        draft.user_speech_stopped = now
        return done

    def committed(self, item_id: str, now: float) -> None:
        """The server committed the user's audio as an item."""
        draft = self._current
        if draft is None or draft.stage is not _Stage.WAITING:
            return
        if item_id and item_id not in draft.user_item_ids:
            draft.user_item_ids.append(item_id)
        if draft.committed is None:
            draft.committed = now

    def interrupted(self, now: float, heard_ms: int) -> list[TurnTimeline]:
        """The user talked over the bot (once per reply: later calls change nothing).

        Args:
            now: When.
            heard_ms: Milliseconds of the reply heard (the truncation point).

        Returns:
            The turn it ended, when its responses were all done already.
        """
        draft = self._current
        if draft is None or not _cut_short(draft):
            draft = self._left
        if draft is None or not _cut_short(draft):
            return []
        draft.interruption = TurnInterruption(now, max(0, heard_ms))
        if not draft.running:
            return [self._finish(draft)]
        # Its response.done ends it; the user's speech opens the next turn.
        if draft is self._current:
            self._current = None
            self._leave(draft, [])
        return []

    # -- responses -------------------------------------------------------------------------

    def response_created(self, response_id: str, now: float) -> list[TurnTimeline]:
        """A response of the bot was created (not an out-of-band one)."""
        done: list[TurnTimeline] = []
        draft = self._current
        if draft is None or draft.stage is _Stage.ANSWERED:
            draft = self._open(done)
        draft.stage = _Stage.RESPONDING
        draft.response_ids.append(response_id)
        draft.running.add(response_id)
        if draft.response_created is None:
            draft.response_created = now
        self._by_response[response_id] = draft
        if draft.first_audio_received is None:
            self.awaiting_audio[response_id] = draft
        if draft.first_text is None:
            self.awaiting_text[response_id] = draft
        return done

    def audio_received(self, response_id: str, now: float) -> None:
        """Reply audio arrived (call only while :attr:`awaiting_audio`)."""
        draft = self.awaiting_audio.pop(response_id, None)
        if draft is None or draft.first_audio_received is not None:
            return
        draft.first_audio_received = now
        _drop_values(self.awaiting_audio, draft)
        self.awaiting_push = draft

    def audio_pushed(self, now: float) -> None:
        """The first reply audio was pushed (call only while :attr:`awaiting_push`)."""
        draft, self.awaiting_push = self.awaiting_push, None
        if draft is not None and draft.first_audio_pushed is None:
            draft.first_audio_pushed = now

    def text_pushed(self, response_id: str, now: float) -> None:
        """Reply text was pushed (call only while :attr:`awaiting_text`)."""
        draft = self.awaiting_text.pop(response_id, None)
        if draft is None or draft.first_text is not None:
            return
        draft.first_text = now
        _drop_values(self.awaiting_text, draft)

    def response_done(
        self,
        response_id: str,
        now: float,
        *,
        reply_items: list[str],
        calls_tools: bool,
        status: str | None,
        playing: bool,
    ) -> list[TurnTimeline]:
        """A response ended (``response.done``).

        Args:
            response_id: The response.
            now: When.
            reply_items: Ids of the message items it produced.
            calls_tools: It called tools, so a response with their results follows.
            status: Its status (``completed``, ``cancelled``, ...).
            playing: The transport is playing reply audio, so the turn ends when it
                stops (or is talked over).

        Returns:
            The turn it ended, if any.
        """
        draft = self._by_response.pop(response_id, None)
        self.awaiting_audio.pop(response_id, None)
        self.awaiting_text.pop(response_id, None)
        if draft is None:
            return []
        draft.running.discard(response_id)
        draft.reply_item_ids.extend(reply_items)
        draft.reply_done = now
        draft.cancelled = status == "cancelled"
        if draft.running:
            return []
        if calls_tools and draft is self._current:
            draft.stage = _Stage.WAITING
            return []
        draft.stage = _Stage.ANSWERED
        if playing and draft.interruption is None:
            draft.waits_for_playback = True
            return []
        return [self._finish(draft)]

    def playback_stopped(self, now: float) -> list[TurnTimeline]:
        """The transport played out the reply."""
        done: list[TurnTimeline] = []
        for draft in (self._left, self._current):
            if draft is not None and draft.stage is _Stage.ANSWERED and draft.waits_for_playback:
                draft.playback_stopped = now
                done.append(self._finish(draft))
        return done

    # -- tools -------------------------------------------------------------------------------

    def tool_started(self, response_id: str, call_id: str, name: str, now: float) -> None:
        """A tool call was handed to the application."""
        draft = self._by_response.get(response_id) or self._current
        if draft is None:
            return
        draft.tool_calls[call_id] = ToolCallTiming(name, call_id, now)
        self._by_call[call_id] = draft

    def tool_ended(self, call_id: str, now: float) -> None:
        """A tool call's result (or cancellation) came back."""
        draft = self._by_call.pop(call_id, None)
        if draft is None:
            return
        call = draft.tool_calls.get(call_id)
        if call is not None and call.ended is None:
            draft.tool_calls[call_id] = ToolCallTiming(call.name, call.call_id, call.started, now)

    # -- the end ---------------------------------------------------------------------------

    def flush(self) -> list[TurnTimeline]:
        """The connection ended: every turn recorded so far, as far as it got."""
        drafts: list[_Draft] = []
        for draft in [self._left, self._current, *self._by_response.values()]:
            if draft is not None and draft not in drafts and _has_content(draft):
                drafts.append(draft)
        self._current = None
        self._left = None
        self._by_response.clear()
        self._by_call.clear()
        self.awaiting_audio.clear()
        self.awaiting_text.clear()
        self.awaiting_push = None
        return [draft.finish() for draft in sorted(drafts, key=lambda d: d.index)]

    # -- internals ---------------------------------------------------------------------------

    def _open(self, done: list[TurnTimeline]) -> _Draft:
        previous = self._current
        if previous is not None and _has_content(previous):
            if previous.running or previous.waits_for_playback:
                self._leave(previous, done)
            else:
                done.append(self._finish(previous))
        self._count += 1
        draft = _Draft(self._count)
        self._current = draft
        return draft

    def _leave(self, draft: _Draft, done: list[TurnTimeline]) -> None:
        older = self._left
        if older is not None and older is not draft and not older.running:
            done.append(self._finish(older))
        self._left = draft

    def _finish(self, draft: _Draft) -> TurnTimeline:
        if self._current is draft:
            self._current = None
        if self._left is draft:
            self._left = None
        for waits in (self.awaiting_audio, self.awaiting_text, self._by_response, self._by_call):
            _drop_values(waits, draft)
        if self.awaiting_push is draft:
            self.awaiting_push = None
        return draft.finish()


def _drop_values(mapping: dict[str, _Draft], draft: _Draft) -> None:
    for key in [k for k, d in mapping.items() if d is draft]:
        del mapping[key]


def _cut_short(draft: _Draft) -> bool:
    """Whether talking over the turn now cuts its reply: it runs, or still plays."""
    if draft.interruption is not None:
        return False
    return draft.stage is _Stage.RESPONDING or draft.waits_for_playback


def _has_content(draft: _Draft) -> bool:
    return (
        bool(draft.response_ids)
        or draft.user_speech_started is not None
        or (draft.user_speech_stopped is not None)
    )
