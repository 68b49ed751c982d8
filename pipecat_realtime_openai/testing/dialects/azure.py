"""Azure's dialects in the simulator.

Azure OpenAI v1, the legacy preview endpoint (beta names, flat session) and Voice Live
(voice objects, Azure VAD types).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pipecat_realtime_openai.testing.dialects.base import (
    DialectServerState,
    Event,
    SimDialect,
    unknown_parameter,
)
from pipecat_realtime_openai.testing.server_events import make_event

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
                return None, [unknown_parameter("response.output_modalities", data)]
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
                    return None, [unknown_parameter(f"session.{ga_only}", data)]
            return {**data, "session": _ga_from_flat(session)}, []
        if kind == "response.create":
            response = data.get("response")
            if isinstance(response, dict):
                if "output_modalities" in response:
                    return None, [unknown_parameter("response.output_modalities", data)]
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
