"""The simulated server's logic for one connection, without any I/O.

`RealtimeSessionState` takes decoded client events and returns the server events to
send. A response in progress is pulled step by step with `next_response_step()` so the
socket layer decides the pacing, and so a barge-in or `response.cancel` arriving in the
middle can end it.

Like the GA server, only one response writes to the conversation at a time (`active`;
a second is refused with ``conversation_already_has_active_response``), while
out-of-band responses (``conversation: "none"``, `out_of_band`) run next to it and to
each other: their steps take turns with the conversation's on the wire, their items
never join the conversation, and a barge-in does not cancel them (only the
conversation's response is the user's to interrupt).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.testing.audio_codec import decode_samples
from pipecat_realtime_openai.testing.conversation import ConversationStore, ItemError
from pipecat_realtime_openai.testing.ids import new_id
from pipecat_realtime_openai.testing.input_buffer import InputAudioBuffer
from pipecat_realtime_openai.testing.mcp import McpRegistry, McpSessionState, check_mcp_tools
from pipecat_realtime_openai.testing.responder import EchoResponder, Responder
from pipecat_realtime_openai.testing.response_factory import start_response
from pipecat_realtime_openai.testing.responses import ResponseRun
from pipecat_realtime_openai.testing.server_events import Event, error_event, make_event
from pipecat_realtime_openai.testing.session_config import (
    ConfigError,
    apply_session_update,
    default_session,
)
from pipecat_realtime_openai.testing.transcription import (
    TranscriptionFailure,
    TranscriptQueue,
    transcription_events,
)
from pipecat_realtime_openai.testing.usage import rate_limits
from pipecat_realtime_openai.testing.vad import EnergyVad, VadEvent, VadSettings
from pipecat_realtime_openai.testing.validation import (
    client_event_error,
    decode_append_audio,
    error_code_and_param,
)

INVALID_JSON_MESSAGE = "The event is not valid JSON."


class RealtimeSessionState:
    """Everything one simulated Realtime connection knows, and how it reacts."""

    def __init__(
        self,
        model: str,
        responder: Responder | None = None,
        transcripts: TranscriptQueue | None = None,
        rate_limits: bool = False,
        mcp: McpRegistry | None = None,
    ) -> None:
        """Create the state of a new connection.

        Args:
            model: Model name from the connection URL.
            responder: Decides the replies (echo by default).
            transcripts: Source of input transcripts (a private empty queue by default).
            rate_limits: Send `rate_limits.updated` after each `response.done`, as the
                real server sometimes does.
            mcp: The MCP servers the session's ``mcp`` tools can reach (none by default).
        """
        self.session = default_session(model, new_id("sess"))
        self.conversation_id = new_id("conv")
        self.store = ConversationStore()
        self.responder: Responder = responder if responder is not None else EchoResponder()
        self.transcripts = transcripts if transcripts is not None else TranscriptQueue()
        self.buffer = InputAudioBuffer(self._input_spec())
        self.vad: EnergyVad | None = None
        self._configure_vad()
        self.active: ResponseRun | None = None
        self.out_of_band: list[ResponseRun] = []
        # False: one response at a time, out of band or not (a provider that promises
        # no parallel responses); a second is refused as already active.
        self.parallel_out_of_band = True
        # The response `next_response_step` stepped last (the socket layer paces it).
        self.last_stepped: ResponseRun | None = None
        self._turn = 0
        self._speech_item_id: str | None = None
        # A VAD turn ended while a response was active: answer it when that one is done.
        self._turn_waiting = False
        # Input timeline position where the last response's audio ended playing, while
        # no speech came since (server VAD's idle timeout counts from there).
        self._idle_since_ms: float | None = None
        self._previous_input_tokens = 0
        self._rate_limits = rate_limits
        self._responses_done = 0
        self._tokens_used = 0
        self.mcp = McpSessionState(mcp if mcp is not None else McpRegistry())

    # --- configuration ----------------------------------------------------------------

    def _input_spec(self) -> AudioFormatSpec:
        return AudioFormatSpec.from_session_format(self.session["audio"]["input"]["format"])

    def _configure_vad(self) -> None:
        settings = VadSettings.from_turn_detection(self.session["audio"]["input"]["turn_detection"])
        if settings is None:
            self.vad = None
        elif self.vad is None or self.vad.settings != settings:
            self.vad = EnergyVad(settings)

    def set_audio_format(self, side: str, fmt: dict[str, Any]) -> None:
        """Set an audio format the GA checks refuse but a dialect's server takes (xAI's rates).

        Args:
            side: ``input`` or ``output``.
            fmt: The format, e.g. ``{"type": "audio/pcm", "rate": 16000}``.
        """
        self.session["audio"][side]["format"] = copy.deepcopy(fmt)
        if side == "input":
            self.buffer.set_format(self._input_spec())

    # --- entry points -----------------------------------------------------------------

    def opening_events(self) -> list[Event]:
        """Events sent as soon as a connection is accepted (`session.created`)."""
        return [make_event("session.created", session=copy.deepcopy(self.session))]

    def receive_text(self, text: str | bytes) -> tuple[Any, list[Event]]:
        """Handle one text frame from the client.

        Args:
            text: The raw frame.

        Returns:
            The decoded event (None when the frame is not JSON) and the events to send.
        """
        try:
            data = json.loads(text)
        except ValueError:
            return None, [error_event("invalid_json", INVALID_JSON_MESSAGE)]
        return data, self.receive(data)

    def receive(self, data: Any) -> list[Event]:
        """Handle one decoded client event and return the server events it causes."""
        problem = client_event_error(data)
        if problem is not None:
            event_id = data.get("event_id") if isinstance(data, dict) else None
            code, param = error_code_and_param(problem)
            return [error_event(code, problem, param=param, client_event_id=event_id)]
        handler = getattr(self, "_on_" + data["type"].replace(".", "_"))
        return handler(data)

    @property
    def responding(self) -> bool:
        """Whether any response (the conversation's or out of band) is in progress."""
        return self.active is not None or bool(self.out_of_band)

    def next_response_step(self) -> list[Event] | None:
        """Next batch of events of a running response (None when none runs).

        The running responses take turns, one step each, so concurrent responses
        interleave on the wire as the real server's do.
        """
        runs = ([self.active] if self.active is not None else []) + self.out_of_band
        if not runs:
            return None
        run = runs[self._turn % len(runs)]
        self._turn += 1
        self.last_stepped = run
        if run is not self.active:
            return self._next_out_of_band_step(run)
        step = run.next_step()
        if run.finished:
            # Cleared as soon as `response.done` is produced: a client that answers it
            # with `response.create` must not be told a response is still active.
            self._previous_input_tokens = run.input_tokens or self._previous_input_tokens
            self.active = None
            # The real server starts counting once the reply's audio has played out.
            self._idle_since_ms = self.buffer.end_ms + run.audio_ms_sent
            if step is not None:
                step = step + self._rate_limit_events(run)
            if self._turn_waiting:
                self._turn_waiting = False
                self._idle_since_ms = None
                self._start_response({}, [], [])
        return step

    def _next_out_of_band_step(self, run: ResponseRun) -> list[Event] | None:
        step = run.next_step()
        if run.finished:
            self.out_of_band.remove(run)
            if step is not None:
                step = step + self._rate_limit_events(run)
        return step

    def _rate_limit_events(self, run: ResponseRun) -> list[Event]:
        self._responses_done += 1
        self._tokens_used += (run.response.get("usage") or {}).get("total_tokens", 0)
        if not self._rate_limits:
            return []
        limits = rate_limits(self._responses_done, self._tokens_used)
        return [make_event("rate_limits.updated", rate_limits=limits)]

    # --- session ----------------------------------------------------------------------

    def _config_error(self, error: ConfigError | ItemError, data: dict[str, Any]) -> list[Event]:
        return [
            error_event(
                error.code, error.message, param=error.param, client_event_id=data.get("event_id")
            )
        ]

    def _on_session_update(self, data: dict[str, Any]) -> list[Event]:
        mcp_error = check_mcp_tools((data.get("session") or {}).get("tools"))
        if mcp_error is not None:
            return self._config_error(mcp_error, data)
        merged, error = apply_session_update(
            self.session,
            data.get("session") or {},
            assistant_audio_present=self.store.assistant_audio_present(),
        )
        if error is not None:
            return self._config_error(error, data)
        self.session = merged
        self.buffer.set_format(self._input_spec())
        self._configure_vad()
        updated = make_event("session.updated", session=copy.deepcopy(self.session))
        return [updated, *self.mcp.listing_events(self.session, self.store)]

    # --- input audio ------------------------------------------------------------------

    def _on_input_audio_buffer_append(self, data: dict[str, Any]) -> list[Event]:
        audio, _ = decode_append_audio(data)
        assert audio is not None  # validated in receive()
        start_ms = self.buffer.end_ms
        self.buffer.append(audio)
        if self.vad is None:
            return []
        spec = self.buffer.spec
        samples = decode_samples(spec, audio)
        events: list[Event] = []
        for boundary in self.vad.feed(samples, spec.sample_rate, start_ms, self.buffer.start_ms):
            events.extend(self._on_vad(boundary))
        events.extend(self._check_idle_timeout())
        return events

    def caller_started(self) -> list[Event]:
        """A call the server carries: the caller starts speaking (audio from the call).

        Server VAD's ``speech_started``, and the running reply cancelled when
        ``interrupt_response``; :meth:`caller_stopped` ends the turn.
        """
        self._idle_since_ms = None
        self._speech_item_id = new_id("item")
        events = [
            make_event(
                "input_audio_buffer.speech_started",
                audio_start_ms=int(self.buffer.end_ms),
                item_id=self._speech_item_id,
            )
        ]
        settings = self.vad.settings if self.vad is not None else None
        if settings is not None and settings.interrupt_response and self.active is not None:
            events.extend(self._cancel_active("turn_detected"))
        return events

    def caller_stopped(self, audio_ms: float) -> list[Event]:
        """The caller stops after ``audio_ms`` of speech.

        Then come the commit, its transcription, and the reply when ``create_response``
        (only the commit with turn detection off).
        """
        spec = self.buffer.spec
        self.buffer.append(bytes(int(audio_ms * spec.bytes_per_ms) // 2 * 2))
        item_id = self._speech_item_id or new_id("item")
        self._speech_item_id = None
        end_ms = self.buffer.end_ms
        events = [
            make_event(
                "input_audio_buffer.speech_stopped", audio_end_ms=int(end_ms), item_id=item_id
            )
        ]
        early, late = self._commit_user_audio(item_id, self.buffer.take(end_ms), events)
        settings = self.vad.settings if self.vad is not None else None
        if settings is not None and settings.create_response and self.active is None:
            events.extend(self._start_response({}, early, late))
        else:
            events.extend(early + late)
        return events

    def _check_idle_timeout(self) -> list[Event]:
        # Like the real server: once `idle_timeout_ms` of input passed after a response
        # without speech, the silent audio is committed as a user turn and answered.
        settings = self.vad.settings if self.vad is not None else None
        since = self._idle_since_ms
        if settings is None or settings.idle_timeout_ms is None or since is None:
            return []
        if self._speech_item_id is not None or self.active is not None:
            return []
        end = self.buffer.end_ms
        if end - since < settings.idle_timeout_ms:
            return []
        self._idle_since_ms = None
        item_id = new_id("item")
        events = [
            make_event(
                "input_audio_buffer.timeout_triggered",
                audio_start_ms=int(since),
                audio_end_ms=int(end),
                item_id=item_id,
            )
        ]
        early, late = self._commit_user_audio(item_id, self.buffer.take(end), events)
        if settings.create_response:
            events.extend(self._start_response({}, early, late))
        else:
            events.extend(early + late)
        return events

    def _on_vad(self, boundary: VadEvent) -> list[Event]:
        assert self.vad is not None
        if boundary.kind == "started":
            self._idle_since_ms = None
            self._speech_item_id = new_id("item")
            self.buffer.take(boundary.at_ms)  # audio before the prefix is not part of the turn
            events = [
                make_event(
                    "input_audio_buffer.speech_started",
                    audio_start_ms=boundary.at_ms,
                    item_id=self._speech_item_id,
                )
            ]
            if self.vad.settings.interrupt_response and self.active is not None:
                events.extend(self._cancel_active("turn_detected"))
            return events
        item_id = self._speech_item_id or new_id("item")
        self._speech_item_id = None
        events = [
            make_event(
                "input_audio_buffer.speech_stopped", audio_end_ms=boundary.at_ms, item_id=item_id
            )
        ]
        audio = self.buffer.take(boundary.at_ms)
        early, late = self._commit_user_audio(item_id, audio, events)
        if self.vad.settings.create_response and self.active is None:
            events.extend(self._start_response({}, early, late))
        else:
            events.extend(early + late)
            # Like the real server: a turn that ends while a response is still running
            # (interrupt_response off) is answered once that response is done.
            self._turn_waiting = self._turn_waiting or self.vad.settings.create_response
        return events

    def _commit_user_audio(
        self, item_id: str, audio: bytes, events: list[Event]
    ) -> tuple[list[Event], list[Event]]:
        spec = self.buffer.spec
        previous = self.store.last_id()
        part: dict[str, Any] = {"type": "input_audio", "transcript": None}
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [part],
        }
        self.store.insert(item)
        audio_ms = len(audio) / spec.bytes_per_ms
        self.store.input_audio[item_id] = audio
        self.store.input_audio_ms[item_id] = audio_ms
        events.append(
            make_event("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)
        )
        events.append(
            make_event(
                "conversation.item.added", previous_item_id=previous, item=copy.deepcopy(item)
            )
        )
        events.append(
            make_event(
                "conversation.item.done", previous_item_id=previous, item=copy.deepcopy(item)
            )
        )
        if not self.session["audio"]["input"].get("transcription"):
            return [], []
        outcome = self.transcripts.next_outcome(audio)
        if not isinstance(outcome, TranscriptionFailure):
            # The stored item learns its transcript now; the events announce it later.
            part["transcript"] = outcome
        model = self.session["audio"]["input"]["transcription"].get("model") or ""
        logprobs = "item.input_audio_transcription.logprobs" in (self.session.get("include") or [])
        early, late = transcription_events(
            item_id,
            outcome,
            audio_ms,
            make_event,
            diarize="diarize" in str(model),
            logprobs=logprobs,
        )
        if late and "transcript" in late[0]:
            part["transcript"] = late[0]["transcript"]  # without diarization labels
        return early, late

    def _on_input_audio_buffer_commit(self, data: dict[str, Any]) -> list[Event]:
        if not self.buffer.can_commit():
            return [
                error_event(
                    "input_audio_buffer_commit_empty",
                    "Error committing input audio buffer: buffer too small. Expected at least"
                    f" 100ms of audio, but buffer only has {self.buffer.duration_ms:.2f}ms"
                    " of audio.",
                    client_event_id=data.get("event_id"),
                )
            ]
        item_id = new_id("item")
        self._speech_item_id = None
        if self.vad is not None:
            self.vad.reset()
        events: list[Event] = []
        early, late = self._commit_user_audio(item_id, self.buffer.take(), events)
        return events + early + late

    def _on_input_audio_buffer_clear(self, data: dict[str, Any]) -> list[Event]:
        self.buffer.clear()
        self._speech_item_id = None
        if self.vad is not None:
            self.vad.reset()
        return [make_event("input_audio_buffer.cleared")]

    def _on_output_audio_buffer_clear(self, data: dict[str, Any]) -> list[Event]:
        return [
            error_event(
                "unsupported_event",
                "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
                client_event_id=data.get("event_id"),
            )
        ]

    # --- conversation items -----------------------------------------------------------

    def _on_conversation_item_create(self, data: dict[str, Any]) -> list[Event]:
        item = copy.deepcopy(data["item"])
        if item.get("type") == "mcp_approval_response":
            mcp_error = self.mcp.answer(item)
            if mcp_error is not None:
                return self._config_error(mcp_error, data)
        elif not item.get("type", "").startswith("mcp_"):
            item.setdefault("status", "completed")
        if item.get("type") == "message":
            item.setdefault("role", "user")
        audio = bytearray()
        for part in item.get("content") or []:
            if part.get("type") == "input_audio":
                # Kept aside: echoes and retrievals do not repeat the audio payload.
                try:
                    audio += base64.b64decode(part.pop("audio", None) or "", validate=True)
                except ValueError:
                    return self._config_error(
                        ItemError("invalid_value", "Invalid base64 audio.", "item.content.audio"),
                        data,
                    )
                part.setdefault("transcript", None)
        previous, error = self.store.insert(item, data.get("previous_item_id"))
        if error is not None:
            return self._config_error(error, data)
        if audio:
            self.store.input_audio[item["id"]] = bytes(audio)
            self.store.input_audio_ms[item["id"]] = len(audio) / self._input_spec().bytes_per_ms
        return [
            make_event(
                "conversation.item.added", previous_item_id=previous, item=copy.deepcopy(item)
            ),
            make_event(
                "conversation.item.done", previous_item_id=previous, item=copy.deepcopy(item)
            ),
        ]

    def _on_conversation_item_retrieve(self, data: dict[str, Any]) -> list[Event]:
        item, error = self.store.retrieve(data["item_id"])
        if error is not None:
            return self._config_error(error, data)
        return [make_event("conversation.item.retrieved", item=item)]

    def _on_conversation_item_delete(self, data: dict[str, Any]) -> list[Event]:
        error = self.store.delete(data["item_id"])
        if error is not None:
            return self._config_error(error, data)
        return [make_event("conversation.item.deleted", item_id=data["item_id"])]

    def _on_conversation_item_truncate(self, data: dict[str, Any]) -> list[Event]:
        error = self.store.truncate(data["item_id"], data["content_index"], data["audio_end_ms"])
        if error is not None:
            return self._config_error(error, data)
        return [
            make_event(
                "conversation.item.truncated",
                item_id=data["item_id"],
                content_index=data["content_index"],
                audio_end_ms=data["audio_end_ms"],
            )
        ]

    # --- responses --------------------------------------------------------------------

    def _on_response_create(self, data: dict[str, Any]) -> list[Event]:
        options = data.get("response") or {}
        if self.parallel_out_of_band and options.get("conversation") == "none":
            self.out_of_band.append(self._new_run(options, [], []))
            return []
        running = self.active or (None if self.parallel_out_of_band else self._first_side())
        if running is not None:
            return [
                error_event(
                    "conversation_already_has_active_response",
                    f"Conversation already has an active response in progress: {running.id}."
                    " Wait until the response is finished before creating a new one.",
                    client_event_id=data.get("event_id"),
                )
            ]
        if options.get("conversation") == "none":
            self.out_of_band.append(self._new_run(options, [], []))
            return []
        return self._start_response(options, [], [])

    def _first_side(self) -> ResponseRun | None:
        return self.out_of_band[0] if self.out_of_band else None

    def _on_response_cancel(self, data: dict[str, Any]) -> list[Event]:
        wanted = data.get("response_id")
        for run in self.out_of_band:
            if wanted and run.id == wanted:
                self.out_of_band.remove(run)
                return run.cancel("client_cancelled") + self._rate_limit_events(run)
        if self.active is None or (wanted and wanted != self.active.id):
            return [
                error_event(
                    "response_cancel_not_active",
                    "Cancellation failed: no active response found",
                    client_event_id=data.get("event_id"),
                )
            ]
        return self._cancel_active("client_cancelled")

    def _cancel_active(self, reason: str) -> list[Event]:
        assert self.active is not None
        run = self.active
        events = run.cancel(reason)
        self._previous_input_tokens = run.input_tokens or self._previous_input_tokens
        self.active = None
        events += self._rate_limit_events(run)
        if self._turn_waiting:
            self._turn_waiting = False
            self._start_response({}, [], [])
        return events

    def _start_response(
        self, options: dict[str, Any], early: list[Event], late: list[Event]
    ) -> list[Event]:
        self.active = self._new_run(options, early, late)
        # The events themselves are pulled with next_response_step(), so the socket
        # layer can pace them.
        return []

    def _new_run(
        self, options: dict[str, Any], early: list[Event], late: list[Event]
    ) -> ResponseRun:
        return start_response(
            session=self.session,
            store=self.store,
            conversation_id=self.conversation_id,
            responder=self.responder,
            options=options,
            previous_input_tokens=self._previous_input_tokens,
            early=early,
            late=late,
            mcp=self.mcp,
        )
