"""Beta names of server events, and the GA names they are read as.

Azure's legacy preview endpoint (``/openai/realtime?api-version=...``) and some
compatible servers still speak the beta protocol, whose output events have other
names. :func:`~pipecat_realtime_openai.protocol.parse.parse_server_event` reads them as
their GA events (deltas take the same fast path), so nothing past the parser needs to
know which protocol the server spoke. ``conversation.item.created``, also a beta name,
has a model of its own.
"""

from __future__ import annotations

BETA_EVENT_NAMES: dict[str, str] = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
}
"""GA event name of each beta server event name."""
