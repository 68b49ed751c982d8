"""Response lifecycle: which frames open and close around each model response.

Downstream processors (aggregators, TTS-aware observers) rely on balanced pairs: one
``LLMFullResponseStartFrame``/``LLMFullResponseEndFrame`` around every response,
including cancelled and failed ones, and one ``TTSStartedFrame``/``TTSStoppedFrame`` per
response however many audio items it has. The server also refuses a second
``response.create`` while one is active (``conversation_already_has_active_response``),
so a request made then is remembered as *owed* and released when the active one ends.

Each method returns what the caller must emit; the caller does the I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

# Enough to recognise the ids of the last few responses; only recency matters.
_REMEMBERED_RESPONSE_IDS = 16


@dataclass(frozen=True, slots=True)
class Closing:
    """What to emit when a response ends.

    Attributes:
        tts_stopped: Push ``TTSStoppedFrame``.
        full_response_end: Push ``LLMFullResponseEndFrame``.
        response_create_due: A ``response.create`` was owed; call
            :meth:`ResponseLifecycle.on_response_requested` and send it if that says so.
    """

    tts_stopped: bool = False
    full_response_end: bool = False
    response_create_due: bool = False


NOTHING_TO_CLOSE = Closing()


class ResponseLifecycle:
    """Tracks the current response so frame pairs stay balanced."""

    def __init__(self) -> None:
        self._active: str | None = None
        self._awaiting_creation = False
        self._started = False
        self._tts_started = False
        self._interrupted = False
        self._owed = False
        self._seen: deque[str] = deque(maxlen=_REMEMBERED_RESPONSE_IDS)

    @property
    def active(self) -> str | None:
        """Id of the server response in progress, if any."""
        return self._active

    @property
    def awaiting_creation(self) -> bool:
        """True after a ``response.create`` was sent and before ``response.created``."""
        return self._awaiting_creation

    @property
    def busy(self) -> bool:
        """True when a new ``response.create`` would collide with a response."""
        return self._active is not None or self._awaiting_creation

    @property
    def owed(self) -> bool:
        """True when a ``response.create`` is waiting for the active response to end."""
        return self._owed

    def on_response_requested(self) -> bool:
        """The client wants the model to respond.

        Returns:
            True: send ``response.create`` now and push ``LLMFullResponseStartFrame``.
            False: a response is in progress; the request is owed and comes back as
            ``Closing.response_create_due`` when that response ends.
        """
        if self.busy:
            self._owed = True
            return False
        self._awaiting_creation = True
        self._started = True
        return True

    def on_request_failed(self, already_active: bool) -> Closing:
        """The server rejected a ``response.create`` the client sent.

        Args:
            already_active: The error was ``conversation_already_has_active_response``
                (a response the client did not know about is running); the request is
                kept as owed so it goes out when that response ends.

        When the refusal comes after a ``response.created`` was taken as this request's
        (another response was announced between the request and its refusal), that
        response was not this request's: the request is owed until it ends, and due at
        once if it already ended.

        Returns:
            The end of the start frame pushed for the request, if one is open, or an
            owed request that is due now.
        """
        if not self._awaiting_creation:
            if not already_active:
                return NOTHING_TO_CLOSE
            if self._active is not None:
                self._owed = True
                return NOTHING_TO_CLOSE
            return Closing(response_create_due=True)
        self._awaiting_creation = False
        if already_active:
            self._owed = True
        # Nothing else can be active while a request awaits creation (see ``busy``).
        closing = Closing(full_response_end=self._started)
        self._started = False
        return closing

    def on_response_created(self, response_id: str) -> bool:
        """The server created a response.

        Args:
            response_id: Id from ``response.created``.

        Returns:
            True when ``LLMFullResponseStartFrame`` must be pushed (a server-initiated
            response); False for the response the client asked for (its start frame was
            pushed at request time) or a duplicate event.
        """
        if self._active == response_id:
            return False
        self._remember(response_id)
        if self._awaiting_creation:
            self._awaiting_creation = False
            self._active = response_id
            return False
        if self._active is not None and self._interrupted:
            # The next turn's response arrived before the cancelled one's response.done:
            # it takes over the open pair so its audio is not refused.
            self._active = response_id
            self._interrupted = False
            self._tts_started = False
            return False
        if self._active is not None:
            # Out-of-band responses can overlap; keep one pair open rather than nest.
            return False
        self._active = response_id
        self._started = True
        self._tts_started = False
        self._interrupted = False
        return True

    def on_audio(self, response_id: str) -> bool:
        """Assistant audio arrived for ``response_id``.

        Returns:
            True when ``TTSStartedFrame`` must be pushed (first audio of the response).
        """
        if response_id != self._active or self._tts_started or self._interrupted:
            return False
        self._tts_started = True
        return True

    def interrupted(self, response_id: str) -> bool:
        """Tell whether ``response_id`` is the running response and the user cut it off."""
        return response_id == self._active and self._interrupted

    def accepts_audio(self, response_id: str) -> bool:
        """Tell whether audio of ``response_id`` should be played (not interrupted/stale)."""
        return response_id == self._active and not self._interrupted

    def on_response_done(self, response_id: str) -> Closing:
        """The server finished a response (completed, cancelled, failed or incomplete).

        A ``response.done`` for a response never announced, while a request awaits its
        ``response.created``, ends that request: the server can cancel a response it
        has not announced yet, and waiting for its creation would hold every later
        request forever.

        Returns:
            What to close, and whether an owed ``response.create`` is now due.
        """
        if response_id != self._active:
            unannounced = response_id not in self._seen
            self._remember(response_id)
            if self._active is None and self._awaiting_creation and unannounced:
                return self._close()
            if self._active is None and not self._awaiting_creation and self._owed:
                # The response that blocked an owed request was one we never tracked.
                self._owed = False
                return Closing(response_create_due=True)
            return NOTHING_TO_CLOSE
        return self._close()

    def on_interrupted(self) -> Closing:
        """The user barged in.

        The ``TTSStoppedFrame`` goes out now because playback stops now; the
        ``LLMFullResponseEndFrame`` waits for the cancelled ``response.done``. Later audio
        of the interrupted response is refused by :meth:`on_audio`.

        Returns:
            Only ``tts_stopped`` may be set.
        """
        if self._active is None:
            return NOTHING_TO_CLOSE
        self._interrupted = True
        stopped = self._tts_started
        self._tts_started = False
        return Closing(tts_stopped=stopped)

    def on_disconnected(self) -> Closing:
        """The connection dropped: close whatever is open; no ``response.done`` will come.

        Returns:
            What to close; ``response_create_due`` reports an owed request the caller may
            send after the conversation is restored.
        """
        return self._close()

    def _remember(self, response_id: str) -> None:
        if response_id not in self._seen:
            self._seen.append(response_id)

    def _close(self) -> Closing:
        closing = Closing(
            tts_stopped=self._tts_started,
            full_response_end=self._started,
            response_create_due=self._owed,
        )
        self._active = None
        self._awaiting_creation = False
        self._started = False
        self._tts_started = False
        self._interrupted = False
        self._owed = False
        return closing
