"""What each provider's Realtime server does differently, as data the core decides with.

One :class:`Dialect` per provider. The core reads it where a provider changes a
decision (whether an interruption may truncate, which sample rates and voices the
session may ask for, whether a reconnect resumes the server's conversation); the
service reads it for the wire (:mod:`~pipecat_realtime_openai.protocol.shapes`) and the
connection (URL, authentication). Everything else is the same core for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipecat_realtime_openai.protocol.shapes import WireShape

OPENAI_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
"""OpenAI's built-in voices."""

XAI_VOICES = ("ara", "eve", "leo", "rex", "sal")
"""xAI Grok's built-in voices (custom voice ids are accepted too)."""

XAI_PCM_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
"""Sample rates xAI accepts for ``audio/pcm``."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """One provider's way of speaking the Realtime protocol.

    Attributes:
        name: ``openai``, ``azure``, ``azure-preview``, ``voice-live`` or ``xai``.
        provider: The provider's name in log lines and errors.
        wire_shape: How client events are written (see ``protocol.shapes``).
        response_modalities: Whether ``response.create`` may carry
            ``output_modalities`` (Azure refuses the whole response for it).
        truncates_audio: Whether the server takes ``conversation.item.truncate``.
            Without it an interruption deletes the reply the user did not hear at all
            and keeps the one heard in part, whole.
        resumes_conversation: Whether the server can keep the conversation across
            connections (xAI's ``resumption``); the core then asks for it back instead
            of replaying it.
        pcm_rates: Sample rates the server takes for ``audio/pcm``.
        voices: The built-in voice names, or None when any name may be right
            (Azure's neural voices). Other names get a warning, not a refusal:
            custom voices have ids of their own.
        concurrent_out_of_band: Whether out-of-band responses (``conversation:
            "none"``) run next to the conversation's response and each other; when
            False they go one at a time while no conversation response runs
            (``core/out_of_band.py``).
        openai_models: Whether model names are OpenAI's, so OpenAI's shutdown dates
            apply (an Azure deployment is a name the user chose; Azure and xAI retire
            models on schedules of their own).
    """

    name: str
    provider: str
    wire_shape: WireShape = "ga"
    response_modalities: bool = True
    truncates_audio: bool = True
    resumes_conversation: bool = False
    pcm_rates: tuple[int, ...] = (24000,)
    voices: tuple[str, ...] | None = OPENAI_VOICES
    openai_models: bool = True
    concurrent_out_of_band: bool = True

    def session_warnings(self, session: Mapping[str, Any]) -> list[str]:
        """Say what in a wanted session this server will not take.

        Args:
            session: The GA session wire dict.

        Returns:
            One sentence per problem (empty when the session suits the server).
        """
        warnings: list[str] = []
        audio = session.get("audio")
        if isinstance(audio, Mapping):
            for side in ("input", "output"):
                part = audio.get(side)
                fmt = part.get("format") if isinstance(part, Mapping) else None
                if isinstance(fmt, Mapping) and fmt.get("type") == "audio/pcm":
                    rate = fmt.get("rate", 24000)
                    if rate not in self.pcm_rates:
                        rates = ", ".join(str(r) for r in self.pcm_rates)
                        warnings.append(
                            f"{self.provider} takes audio/pcm {side} at {rates} Hz, "
                            f"not {rate} Hz: the session update may be refused."
                        )
            output = audio.get("output")
            voice = output.get("voice") if isinstance(output, Mapping) else None
            if isinstance(voice, str) and self.voices is not None and voice not in self.voices:
                warnings.append(
                    f"{voice!r} is not one of {self.provider}'s voices "
                    f"({', '.join(self.voices)}); fine if it is a custom voice id."
                )
        return warnings


OPENAI = Dialect("openai", "OpenAI")
"""OpenAI (``wss://api.openai.com/v1/realtime``)."""

AZURE = Dialect("azure", "Azure OpenAI", response_modalities=False, openai_models=False)
"""Azure OpenAI's v1 endpoint (``/openai/v1/realtime?model=<deployment>``)."""

AZURE_PREVIEW = Dialect(
    "azure-preview",
    "Azure OpenAI (preview)",
    wire_shape="beta",
    openai_models=False,
    concurrent_out_of_band=False,
)
"""Azure OpenAI's legacy preview endpoint (``/openai/realtime?api-version=...``).

Out-of-band responses go one at a time: the beta protocol it speaks predates the GA
promise of parallel responses, so nothing says it keeps it."""

VOICE_LIVE = Dialect(
    "voice-live",
    "Azure Voice Live",
    response_modalities=False,
    voices=None,
    openai_models=False,
    concurrent_out_of_band=False,
)
"""Azure Voice Live (``/voice-live/realtime``): neural voices as objects, Azure VAD types.

Out-of-band responses go one at a time: Voice Live puts its own speech pipeline (Azure
TTS voices, Azure VAD) around the model and documents no parallel responses."""

XAI = Dialect(
    "xai",
    "xAI",
    wire_shape="xai",
    truncates_audio=False,
    resumes_conversation=True,
    pcm_rates=XAI_PCM_RATES,
    voices=XAI_VOICES,
    openai_models=False,
    concurrent_out_of_band=False,
)
"""xAI Grok voice (``wss://api.x.ai/v1/realtime``).

Out-of-band responses go one at a time, while no conversation response runs: xAI's
server is a reimplementation of the protocol whose recorded sessions show one response
at a time and whose documentation promises no parallel ones."""

DIALECTS: dict[str, Dialect] = {d.name: d for d in (OPENAI, AZURE, AZURE_PREVIEW, VOICE_LIVE, XAI)}
"""Every dialect by name."""
