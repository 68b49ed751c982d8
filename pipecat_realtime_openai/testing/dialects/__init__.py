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

from collections.abc import Mapping

from pipecat_realtime_openai.testing.dialects.azure import (
    AzureDialect,
    AzurePreviewDialect,
    VoiceLiveDialect,
)
from pipecat_realtime_openai.testing.dialects.base import (
    DIALECTS,
    PATHS,
    DialectServerState,
    Event,
    SimDialect,
)
from pipecat_realtime_openai.testing.dialects.xai import XaiDialect

__all__ = [
    "DIALECTS",
    "PATHS",
    "DialectServerState",
    "Event",
    "SimDialect",
    "make_dialect",
]

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
