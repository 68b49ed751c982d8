"""xAI Grok voice in the simulator.

Its session shape, ids, voices, rates, server-side tools, cumulative transcripts,
refused truncation and conversation resumption.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from pipecat_realtime_openai.protocol.session import DEFAULT_TRANSCRIPTION_MODEL
from pipecat_realtime_openai.protocol.shapes import session_from_xai
from pipecat_realtime_openai.testing.dialects.base import (
    DialectServerState,
    Event,
    SimDialect,
    unknown_parameter,
)
from pipecat_realtime_openai.testing.server_events import error_event

XAI_VOICES = ("ara", "eve", "leo", "rex", "sal")
XAI_PCM_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)

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
        # xAI promises no parallel responses: the simulator runs one at a time, out of
        # band or not, as the client's xAI dialect assumes.
        state.parallel_out_of_band = False
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
            return None, [unknown_parameter("session.type", data)]
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
