"""How the simulator speaks each provider's dialect of the Realtime protocol.

The simulator's state machine (:class:`~pipecat_realtime_openai.testing.session_state.
RealtimeSessionState`) speaks OpenAI's GA protocol. A :class:`SimDialect` sits at the
edges of one connection: it checks the handshake (path, authentication), turns each
client event into GA (or refuses it with the ``error`` the real server sends) before
the state machine sees it, and renders each GA server event in the provider's shape
after. The shapes copy the recorded real sessions in ``../shared/fixtures/recorded``.

- ``openai``: as it is.
- ``azure``: ``/openai/v1/realtime?model=<deployment>``, ``api-key`` or an Entra token;
  refuses ``output_modalities`` in ``response.create``; the transcription model must
  name a deployment, or each user turn gets ``input_audio_transcription.failed``.
- ``azure-preview``: ``/openai/realtime?api-version=...&deployment=...``; beta event
  names, a flat session, ``modalities`` in ``response.create``.
- ``voice-live``: ``/voice-live/realtime?api-version=...&model=...``; voices as objects
  (also in ``response.created``/``done``), Azure VAD types and session options.
- ``xai``: ``/v1/realtime?model=grok-voice-latest``; uuid event ids, xAI's session
  shapes, ``conversation.created`` and ``ping``, PCM at 8 to 48 kHz, its voices,
  cumulative transcription updates, no ``conversation.item.done``, usage at the top of
  ``response.done``, truncation refused, and resumption: a connection whose URL names a
  kept ``conversation_id`` gets its items back once it enables ``resumption``.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from pipecat_realtime_openai.protocol.session import DEFAULT_TRANSCRIPTION_MODEL
from pipecat_realtime_openai.protocol.shapes import session_from_xai
from pipecat_realtime_openai.testing.server_events import error_event, make_event

Event = dict[str, Any]

DIALECTS = ("openai", "azure", "azure-preview", "voice-live", "xai")
"""Every dialect the simulator speaks."""

PATHS = {
    "openai": "/v1/realtime",
    "azure": "/openai/v1/realtime",
    "azure-preview": "/openai/realtime",
    "voice-live": "/voice-live/realtime",
    "xai": "/v1/realtime",
}
"""The WebSocket path of each dialect."""

XAI_VOICES = ("ara", "eve", "leo", "rex", "sal")
XAI_PCM_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
DEFAULT_VOICE_LIVE_VOICE = {"name": "en-US-Ava:DragonHDLatestNeural", "type": "azure-standard"}

_BETA_NAMES = {
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "conversation.item.added": "conversation.item.created",
}
_BETA_FORMATS = {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}
_GA_FORMATS = {ga: beta for beta, ga in _BETA_FORMATS.items()}
_BETA_CONTENT = {"output_audio": "audio", "output_text": "text"}
_AZURE_VAD_TYPES = ("azure_semantic_vad", "azure_semantic_vad_multilingual", "server_vad")
_SERVER_VAD_KEYS = (
    "threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms",
    "create_response", "interrupt_response",
)  # fmt: skip


def _unknown_parameter(name: str, data: Mapping[str, Any]) -> Event:
    return error_event(
        "unknown_parameter",
        f"Unknown parameter: '{name}'.",
        param=name,
        client_event_id=data.get("event_id"),
    )


class SimDialect:
    """OpenAI's own dialect; the others override what they change.

    One instance per connection (some dialects remember what the client asked for).

    Args:
        server: What the dialect keeps across connections (Azure deployments, xAI's
            kept conversations), see :class:`DialectServerState`.
        query: The connection URL's query parameters.
    """

    name = "openai"
    azure_auth = False
    """Authenticate with ``api-key`` or an Entra bearer token (else an OpenAI key)."""

    def __init__(self, server: DialectServerState, query: Mapping[str, list[str]]) -> None:
        self.server = server
        self.query = query

    def model(self, default: str) -> str:
        """The model the connection URL names."""
        return (self.query.get("model") or [default])[0]

    def client_in(self, data: Any) -> tuple[Any, list[Event]]:
        """Turn a client event into GA, or refuse it.

        Returns:
            ``(ga_event, [])``, or ``(None, events to send instead)``.
        """
        return data, []

    def server_out(self, event: Event) -> list[Event]:
        """Render one GA server event in the dialect (none, one or several)."""
        return [event]

    def opening(self, events: list[Event], state: Any) -> list[Event]:
        """The events a new connection starts with."""
        return [out for event in events for out in self.server_out(event)]

    def after_client(self, data: Any, state: Any) -> list[Event]:
        """Apply what the dialect changes after the state machine took an event."""
        return []

    def on_closed(self, state: Any) -> None:
        """The connection ended (xAI keeps the conversation for resumption)."""


class DialectServerState:
    """What a simulator keeps across connections for its dialect.

    Attributes:
        deployments: Azure deployment names the transcription model may name.
        conversations: xAI conversations kept for resumption, by id.
    """

    def __init__(self, deployments: tuple[str, ...] = ()) -> None:
        self.deployments = deployments
        self.conversations: dict[str, list[dict[str, Any]]] = {}


class AzureDialect(SimDialect):
    """Azure OpenAI's v1 endpoint."""

    name = "azure"
    azure_auth = True

    def __init__(self, server: DialectServerState, query: Mapping[str, list[str]]) -> None:
        super().__init__(server, query)
        self._transcription_ok = True

    def client_in(self, data: Any) -> tuple[Any, list[Event]]:
        """Turn a client event into GA, or refuse it as this provider does."""
        if isinstance(data, dict) and data.get("type") == "response.create":
            response = data.get("response")
            if isinstance(response, dict) and "output_modalities" in response:
                return None, [_unknown_parameter("response.output_modalities", data)]
        return data, []

    def after_client(self, data: Any, state: Any) -> list[Event]:
        """Apply what this provider changes after the state machine took an event."""
        if isinstance(data, dict) and data.get("type") == "session.update":
            transcription = state.session["audio"]["input"].get("transcription")
            model = transcription.get("model") if isinstance(transcription, dict) else None
            self._transcription_ok = model is None or model in self.server.deployments
        return []

    def server_out(self, event: Event) -> list[Event]:
        """Render one GA server event as this provider sends it."""
        kind = event.get("type", "")
        if not self._transcription_ok and kind.startswith(
            "conversation.item.input_audio_transcription."
        ):
            if kind != "conversation.item.input_audio_transcription.completed":
                return []
            item_id = event.get("item_id")
            return [
                make_event(
                    "conversation.item.input_audio_transcription.failed",
                    item_id=item_id,
                    content_index=event.get("content_index", 0),
                    error={
                        "type": "server_error",
                        "code": "DeploymentNotFound",
                        "message": f"Input transcription failed for item '{item_id}'.",
                        "param": None,
                    },
                )
            ]
        return [event]


class AzurePreviewDialect(AzureDialect):
    """Azure's legacy preview endpoint: the beta protocol."""

    name = "azure-preview"

    def model(self, default: str) -> str:
        """The model (or deployment) the connection URL names."""
        return (self.query.get("deployment") or [default])[0]

    def client_in(self, data: Any) -> tuple[Any, list[Event]]:
        """Turn a client event into GA, or refuse it as this provider does."""
        if not isinstance(data, dict):
            return data, []
        kind = data.get("type")
        if kind == "session.update":
            session = data.get("session") or {}
            for ga_only in ("type", "audio", "output_modalities"):
                if ga_only in session:
                    return None, [_unknown_parameter(f"session.{ga_only}", data)]
            return {**data, "session": _ga_from_flat(session)}, []
        if kind == "response.create":
            response = data.get("response")
            if isinstance(response, dict):
                if "output_modalities" in response:
                    return None, [_unknown_parameter("response.output_modalities", data)]
                shaped = dict(response)
                modalities = shaped.pop("modalities", None)
                if modalities is not None:
                    shaped["output_modalities"] = ["audio"] if "audio" in modalities else ["text"]
                return {**data, "response": shaped}, []
        if kind == "conversation.item.create":
            item = data.get("item")
            if isinstance(item, dict) and item.get("role") == "assistant":
                content = [
                    {**part, "type": "output_text"} if part.get("type") == "text" else part
                    for part in item.get("content") or []
                ]
                return {**data, "item": {**item, "content": content}}, []
        return data, []

    def server_out(self, event: Event) -> list[Event]:
        """Render one GA server event as this provider sends it."""
        rendered = []
        for out in super().server_out(event):
            kind = out.get("type", "")
            if kind == "conversation.item.done":
                continue
            out = _beta_content(copy.deepcopy(out))
            out["type"] = _BETA_NAMES.get(kind, kind)
            if kind in ("session.created", "session.updated"):
                out["session"] = _flat_from_ga(out["session"])
            rendered.append(out)
        return rendered


class VoiceLiveDialect(SimDialect):
    """Azure Voice Live: GA names, Azure's shapes for voices, VAD and session options."""

    name = "voice-live"
    azure_auth = True

    def __init__(self, server: DialectServerState, query: Mapping[str, list[str]]) -> None:
        super().__init__(server, query)
        self._voice: Any = DEFAULT_VOICE_LIVE_VOICE
        self._turn_detection: Any = None
        self._options: dict[str, Any] = {}

    def client_in(self, data: Any) -> tuple[Any, list[Event]]:
        """Turn a client event into GA, or refuse it as this provider does."""
        if not isinstance(data, dict) or data.get("type") != "session.update":
            return data, []
        session = copy.deepcopy(data.get("session") or {})
        for name in list(session):
            if name.startswith("input_audio_") or name in ("voice",):
                self._options[name] = session.pop(name)
        audio = session.get("audio") or {}
        output = audio.get("output") or {}
        voice = output.get("voice")
        if isinstance(voice, dict):
            self._voice = voice
            output["voice"] = "alloy"
        elif isinstance(voice, str):
            self._voice = voice
        detection = (audio.get("input") or {}).get("turn_detection")
        if isinstance(detection, dict) and detection.get("type") in _AZURE_VAD_TYPES:
            self._turn_detection = detection
            audio["input"]["turn_detection"] = {
                "type": "server_vad",
                **{k: v for k, v in detection.items() if k in _SERVER_VAD_KEYS},
            }
        return {**data, "session": session}, []

    def server_out(self, event: Event) -> list[Event]:
        """Render one GA server event as this provider sends it."""
        kind = event.get("type")
        if kind in ("session.created", "session.updated"):
            event = copy.deepcopy(event)
            session = event["session"]
            session["audio"]["output"]["voice"] = self._voice
            if self._turn_detection is not None:
                session["audio"]["input"]["turn_detection"] = self._turn_detection
            session.update(self._options)
        elif kind in ("response.created", "response.done"):
            event = copy.deepcopy(event)
            event["response"]["voice"] = self._voice
        return [event]


XAI_SERVER_TOOLS = ("web_search", "x_search", "file_search")
"""Tools xAI runs on its side (searches of the web, of X, of uploaded files)."""


class XaiDialect(SimDialect):
    """xAI Grok voice."""

    name = "xai"

    def __init__(self, server: DialectServerState, query: Mapping[str, list[str]]) -> None:
        super().__init__(server, query)
        self._voice = "ara"
        self._rates: dict[str, dict[str, Any]] = {}
        self._resumption = False
        self._transcripts: dict[str, str] = {}
        asked: str | None = (query.get("conversation_id") or [None])[0]  # type: ignore[list-item]
        self._resumed = asked if asked in server.conversations else None
        self._replayed = False
        # xAI runs these itself; the GA state machine knows only function tools.
        self._server_tools: list[dict[str, Any]] | None = None

    def model(self, default: str) -> str:
        """The model (or deployment) the connection URL names."""
        return (self.query.get("model") or ["grok-voice-latest"])[0]

    def opening(self, events: list[Event], state: Any) -> list[Event]:
        """The events a new connection starts with, as this provider sends them."""
        if self._resumed is not None:
            state.conversation_id = self._resumed
        created = self._xai_id(
            {
                "type": "session.created",
                "session": {
                    "id": state.session.get("id"),
                    "object": "realtime.session",
                    "instructions": "",
                    "voice": self._voice,
                    "modalities": ["audio"],
                    "turn_detection": {"type": None},
                    "tools": [],
                    "model": self.model(""),
                },
            }
        )
        conversation = self._xai_id(
            {
                "type": "conversation.created",
                "conversation": {"id": state.conversation_id, "object": "realtime.conversation"},
                "previous_item_id": None,
            }
        )
        return [created, conversation]

    def client_in(self, data: Any) -> tuple[Any, list[Event]]:
        """Turn a client event into GA, or refuse it as this provider does."""
        if not isinstance(data, dict):
            return data, []
        kind = data.get("type")
        if kind == "conversation.item.truncate":
            return None, [
                error_event(
                    "unsupported_event",
                    "conversation.item.truncate is not supported.",
                    client_event_id=data.get("event_id"),
                )
            ]
        if kind == "response.create" and isinstance(data.get("response"), dict):
            response = {k: v for k, v in data["response"].items() if k != "modalities"}
            return {**data, "response": response}, []
        if kind != "session.update":
            return data, []
        session = copy.deepcopy(data.get("session") or {})
        if "type" in session:
            return None, [_unknown_parameter("session.type", data)]
        if isinstance(session.get("resumption"), dict):
            self._resumption = session.pop("resumption").get("enabled") is True
        if isinstance(session.get("tools"), list):
            tools = session["tools"]
            self._server_tools = [
                t for t in tools if isinstance(t, dict) and t.get("type") in XAI_SERVER_TOOLS
            ]
            session["tools"] = [t for t in tools if t not in self._server_tools]
        voice = session.get("voice")
        if voice is not None:
            if voice not in XAI_VOICES:
                return None, [
                    error_event(
                        "invalid_value",
                        f"Invalid voice '{voice}'. Supported: {', '.join(XAI_VOICES)}.",
                        param="session.voice",
                        client_event_id=data.get("event_id"),
                    )
                ]
            self._voice = voice
            session["voice"] = "alloy"
        ga = {"type": "realtime", **session_from_xai(session)}
        audio = ga.get("audio") or {}
        detection = (audio.get("input") or {}).get("turn_detection", "unset")
        if detection is False:
            audio["input"]["turn_detection"] = None
        transcription = (audio.get("input") or {}).get("transcription")
        if isinstance(transcription, dict):
            # xAI's transcription models are its own; the GA machine knows OpenAI's.
            audio["input"]["transcription"] = {"model": DEFAULT_TRANSCRIPTION_MODEL}
        for side in ("input", "output"):
            fmt = (audio.get(side) or {}).get("format")
            if isinstance(fmt, dict) and fmt.get("type") == "audio/pcm":
                rate = fmt.get("rate", 24000)
                if rate not in XAI_PCM_RATES:
                    return None, [
                        error_event(
                            "invalid_value",
                            f"Unsupported sample rate {rate}.",
                            param=f"session.audio.{side}.format.rate",
                            client_event_id=data.get("event_id"),
                        )
                    ]
                self._rates[side] = dict(fmt)
                fmt["rate"] = 24000
        return {**data, "session": ga}, []

    def after_client(self, data: Any, state: Any) -> list[Event]:
        """Apply what this provider changes after the state machine took an event."""
        if not isinstance(data, dict) or data.get("type") != "session.update":
            return []
        for side, fmt in self._rates.items():
            state.set_audio_format(side, fmt)
        events = [self._xai_id({"type": "ping", "timestamp": 1785214081855})]
        if self._resumption and self._resumed is not None and not self._replayed:
            self._replayed = True
            previous = None
            for item in self.server.conversations.get(self._resumed, []):
                state.store.insert(copy.deepcopy(item))
                events.append(
                    self._xai_id(
                        {
                            "type": "conversation.item.added",
                            "item": item,
                            "previous_item_id": previous,
                        }
                    )
                )
                previous = item["id"]
        return events

    def on_closed(self, state: Any) -> None:
        """Keep the conversation for a resumption, if the client enabled it."""
        if self._resumption:
            self.server.conversations[state.conversation_id] = [
                _as_text_item(item) for item in state.store.items
            ]

    def server_out(self, event: Event) -> list[Event]:
        """Render one GA server event as this provider sends it."""
        kind = event.get("type", "")
        if kind == "conversation.item.done" or kind == "ping":
            return [] if kind != "ping" else [event]
        event = copy.deepcopy(event)
        if kind == "session.updated":
            event["session"] = self._xai_session(event["session"])
        elif kind == "response.content_part.done":
            event.pop("part", None)
        elif kind == "response.created":
            event["response"]["status_details"] = "unimplemented"
            event["response"]["usage"] = {}
        elif kind == "response.done":
            event["usage"] = event["response"].get("usage") or {}
            event["response"]["usage"] = {}
            event["response"]["status_details"] = "unimplemented"
        elif kind == "conversation.item.input_audio_transcription.delta":
            item_id = event.get("item_id", "")
            self._transcripts[item_id] = self._transcripts.get(item_id, "") + (
                event.get("delta") or ""
            )
            event = {
                "type": "conversation.item.input_audio_transcription.updated",
                "item_id": item_id,
                "transcript": self._transcripts[item_id],
                "content_index": event.get("content_index", 0),
                "previous_item_id": None,
            }
        elif kind == "conversation.item.input_audio_transcription.completed":
            event.pop("usage", None)
            event["status"] = "completed"
        return [self._xai_id(event)]

    def _xai_session(self, session: dict[str, Any]) -> dict[str, Any]:
        audio = session.get("audio") or {}
        audio_input = audio.get("input") or {}
        audio_output = audio.get("output") or {}
        detection = audio_input.get("turn_detection")
        return {
            "instructions": session.get("instructions", ""),
            "turn_detection": detection if detection else {"type": None},
            "voice": self._voice,
            "model": self.model(""),
            "modalities": ["audio"],
            "tool_choice": session.get("tool_choice", "auto"),
            "tools": [*(self._server_tools or []), *session.get("tools", [])],
            "max_response_output_tokens": session.get("max_output_tokens", "inf"),
            "audio": {
                "input": {
                    "format": self._rates.get("input", audio_input.get("format")),
                    "transport": "json",
                    "transcription": {"model": "grok-transcribe"}
                    if audio_input.get("transcription")
                    else None,
                },
                "output": {
                    "format": self._rates.get("output", audio_output.get("format")),
                    "transport": "json",
                },
            },
        }

    @staticmethod
    def _xai_id(event: Event) -> Event:
        event["event_id"] = str(uuid.uuid4())
        return event


def _as_text_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item as xAI replays it after a resumption: audio becomes its transcript as text."""
    kept = copy.deepcopy(item)
    kept["id"] = str(uuid.uuid4())
    content = []
    for part in kept.get("content") or []:
        if part.get("type") in ("output_audio", "audio", "input_audio"):
            text_type = "text" if kept.get("role") == "assistant" else "input_text"
            content.append({"type": text_type, "text": part.get("transcript") or ""})
        else:
            content.append(part)
    if "content" in kept:
        kept["content"] = content
    kept["status"] = "completed"
    return kept


def _ga_from_flat(session: Mapping[str, Any]) -> dict[str, Any]:
    ga: dict[str, Any] = {"type": "realtime"}
    audio_input: dict[str, Any] = {}
    audio_output: dict[str, Any] = {}
    for key, value in session.items():
        if key == "modalities":
            ga["output_modalities"] = ["audio"] if "audio" in value else ["text"]
        elif key == "input_audio_format":
            audio_input["format"] = _ga_format(value)
        elif key == "output_audio_format":
            audio_output["format"] = _ga_format(value)
        elif key == "input_audio_transcription":
            audio_input["transcription"] = value
        elif key == "input_audio_noise_reduction":
            audio_input["noise_reduction"] = value
        elif key == "turn_detection":
            audio_input["turn_detection"] = value
        elif key == "voice":
            audio_output["voice"] = value
        elif key == "max_response_output_tokens":
            ga["max_output_tokens"] = value
        elif key == "temperature":
            continue  # the GA machine has none; the beta server took it
        else:
            ga[key] = value
    audio = {k: v for k, v in (("input", audio_input), ("output", audio_output)) if v}
    if audio:
        ga["audio"] = audio
    return ga


def _ga_format(name: Any) -> dict[str, Any]:
    wire = _BETA_FORMATS.get(str(name), "audio/pcm")
    return {"type": wire, "rate": 24000} if wire == "audio/pcm" else {"type": wire}


def _flat_from_ga(session: Mapping[str, Any]) -> dict[str, Any]:
    audio = session.get("audio") or {}
    audio_input = audio.get("input") or {}
    audio_output = audio.get("output") or {}
    modalities = session.get("output_modalities") or ["audio"]
    return {
        "id": session.get("id"),
        "object": "realtime.session",
        "model": session.get("model"),
        "modalities": ["text", "audio"] if "audio" in modalities else ["text"],
        "instructions": session.get("instructions", ""),
        "voice": audio_output.get("voice"),
        "input_audio_format": _GA_FORMATS.get(str((audio_input.get("format") or {}).get("type"))),
        "output_audio_format": _GA_FORMATS.get(str((audio_output.get("format") or {}).get("type"))),
        "input_audio_transcription": audio_input.get("transcription"),
        "turn_detection": audio_input.get("turn_detection"),
        "tools": session.get("tools", []),
        "tool_choice": session.get("tool_choice", "auto"),
        "temperature": 0.8,
        "max_response_output_tokens": session.get("max_output_tokens", "inf"),
    }


def _beta_content(event: Event) -> Event:
    """Give the content parts of an event their beta type names (in place)."""

    def rename(part: dict[str, Any]) -> None:
        kind = str(part.get("type"))
        part["type"] = _BETA_CONTENT.get(kind, kind)

    part = event.get("part")
    if isinstance(part, dict):
        rename(part)
    items: list[Any] = []
    if isinstance(event.get("item"), dict):
        items.append(event["item"])
    response = event.get("response")
    if isinstance(response, dict):
        items.extend(response.get("output") or [])
    for item in items:
        for content in item.get("content") or []:
            if isinstance(content, dict):
                rename(content)
    return event


_CLASSES: dict[str, type[SimDialect]] = {
    "openai": SimDialect,
    "azure": AzureDialect,
    "azure-preview": AzurePreviewDialect,
    "voice-live": VoiceLiveDialect,
    "xai": XaiDialect,
}


def make_dialect(
    name: str, server: DialectServerState, query: Mapping[str, list[str]]
) -> SimDialect:
    """Build the dialect of one connection.

    Args:
        name: One of :data:`DIALECTS`.
        server: What the simulator keeps across connections.
        query: The connection URL's query parameters.

    Raises:
        ValueError: For an unknown dialect name.
    """
    if name not in _CLASSES:
        raise ValueError(f"unknown dialect {name!r}; choose one of {', '.join(DIALECTS)}")
    return _CLASSES[name](server, query)
