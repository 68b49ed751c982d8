"""``GrokRealtimeLLMService``: xAI's Grok voice agent on this package's core.

A drop-in for Pipecat's ``pipecat.services.xai.realtime.llm.GrokRealtimeLLMService``:
same constructor, the same settings (Pipecat's ``xai.realtime.events.SessionProperties``
is accepted as it is), default voice ``eve`` and model ``grok-voice-latest``. What
xAI does differently is the core's :data:`~pipecat_realtime_openai.core.dialect.XAI`:
its session shape, PCM at 8 to 48 kHz, no truncation (an interruption deletes the reply
nobody heard and keeps the one heard in part), cumulative input transcripts, usage at
the top of ``response.done``, and resumption of the conversation after a reconnect.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loguru import logger
from pipecat.processors.frame_processor import FrameProcessorSetup
from pydantic import BaseModel

from pipecat_realtime_openai.core.dialect import XAI, XAI_PCM_RATES
from pipecat_realtime_openai.protocol.session import SessionProperties
from pipecat_realtime_openai.protocol.shapes import session_from_xai
from pipecat_realtime_openai.service.llm import OpenAIRealtimeLLMService
from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings, to_session_properties

GROK_BASE_URL = "wss://api.x.ai/v1/realtime"
"""xAI's Realtime WebSocket endpoint."""

GROK_DEFAULT_MODEL = "grok-voice-latest"
"""The model used when none is configured (Pipecat's default too)."""

GROK_DEFAULT_VOICE = "eve"
"""The voice used when none is configured (xAI's and Pipecat's default)."""


def grok_session(value: Any) -> SessionProperties:
    """Read a session description in xAI's shape (or the GA one) as this package's model.

    Args:
        value: Pipecat's ``xai.realtime.events.SessionProperties``, this package's
            :class:`SessionProperties`, or a dict in either shape.

    Returns:
        The GA session model.
    """
    if isinstance(value, SessionProperties):
        return to_session_properties(value)
    if isinstance(value, BaseModel):
        tools = getattr(value, "tools", None)
        data = value.model_dump(exclude_none=True, exclude={"tools"})
        # Pipecat's Grok model means manual turns by turn_detection=None, which a dump
        # without nulls would lose.
        if "turn_detection" in type(value).model_fields and value.turn_detection is None:  # type: ignore[attr-defined]
            data["turn_detection"] = None
        if tools is not None:
            data["tools"] = tools
        return to_session_properties(session_from_xai(data))
    if isinstance(value, Mapping):
        return to_session_properties(session_from_xai(value))
    return to_session_properties(value)


@dataclass
class GrokRealtimeLLMSettings(OpenAIRealtimeLLMSettings):
    """Settings for :class:`GrokRealtimeLLMService`.

    Parameters:
        session_properties: The session (voice, audio formats, tools, ``reasoning``,
            ``resumption``, ...). Pipecat's ``xai.realtime.events.SessionProperties``
            and dicts in xAI's shape (top-level ``voice`` and ``turn_detection``)
            are accepted and read as the GA session.
    """

    @classmethod
    def to_session(cls, value: Any) -> SessionProperties:
        """Read a session in xAI's shape or the GA one (see :func:`grok_session`)."""
        return grok_session(value)

    @classmethod
    def defaults(cls) -> GrokRealtimeLLMSettings:
        """Return complete settings with xAI's defaults (model and voice)."""
        store = super().defaults()
        store.model = GROK_DEFAULT_MODEL
        store.session_properties = grok_session({"voice": GROK_DEFAULT_VOICE})
        return store  # type: ignore[return-value]


class GrokRealtimeLLMService(OpenAIRealtimeLLMService):
    """xAI Grok voice agent (speech to speech) for Pipecat pipelines.

    Everything :class:`OpenAIRealtimeLLMService` does (reconnect with the conversation
    restored, session rollover, the error policy, context sync, tools), in xAI's
    dialect. Unless the session names its audio formats, audio goes both ways as PCM
    at the pipeline's sample rates (xAI takes 8 to 48 kHz), so nothing is resampled.

    With ``resumption`` enabled in the session (``{"resumption": {"enabled": True}}``),
    a reconnect asks xAI for the same conversation back (``conversation_id``) instead
    of replaying it.

    Example::

        llm = GrokRealtimeLLMService(
            api_key=os.environ["XAI_API_KEY"],
            settings=GrokRealtimeLLMService.Settings(
                system_instruction="You are a helpful assistant.",
                session_properties={"voice": "rex"},
            ),
        )
    """

    Settings = GrokRealtimeLLMSettings
    _settings: GrokRealtimeLLMSettings

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str = GROK_BASE_URL,
        session_properties: Any | None = None,
        settings: GrokRealtimeLLMSettings | None = None,
        start_audio_paused: bool = False,
        **kwargs: Any,
    ) -> None:
        """Create the service.

        Args:
            api_key: xAI API key (Bearer token; never logged). Read from
                ``XAI_API_KEY`` when not given.
            base_url: The Realtime endpoint; ``?model=`` is added.
            session_properties: Deprecated: use ``settings=Settings(session_properties=...)``.
            settings: Settings delta applied over the defaults.
            start_audio_paused: Start with user audio input paused.
            **kwargs: Passed to :class:`OpenAIRealtimeLLMService` (reconnect options,
                ``extra_headers``, ...).

        Raises:
            ValueError: No API key given and ``XAI_API_KEY`` is not set.
        """
        key = api_key if api_key is not None else os.environ.get("XAI_API_KEY")
        if not key:
            raise ValueError("An xAI API key is required: pass api_key or set XAI_API_KEY.")
        kwargs.setdefault("dialect", XAI)
        super().__init__(
            api_key=key,
            base_url=base_url,
            session_properties=session_properties,
            settings=settings,
            start_audio_paused=start_audio_paused,
            **kwargs,
        )

    def _url_query(self) -> dict[str, str]:
        query = super()._url_query()
        conversation = self._core.resumable_conversation
        if conversation is not None:
            query["conversation_id"] = conversation
        return query

    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        """Match the session's PCM rates to the pipeline's (before it connects).

        Args:
            setup: The pipeline's setup, with its sample rates.
        """
        await super().setup(setup)
        in_rate, out_rate = setup.audio_in_sample_rate, setup.audio_out_sample_rate
        if await self._rewrite_session(lambda session: _pcm_at(session, in_rate, out_rate)):
            logger.debug(
                f"{self}: PCM at {in_rate} Hz in, {out_rate} Hz out (the pipeline's rates)"
            )


def _pcm_at(session: dict[str, Any], in_rate: int, out_rate: int) -> dict[str, Any] | None:
    """Give the session PCM formats at the pipeline's rates where it names none."""
    audio = session.setdefault("audio", {})
    changed = False
    for side, rate in (("input", in_rate), ("output", out_rate)):
        part = audio.setdefault(side, {})
        if part.get("format") is None and rate in XAI_PCM_RATES:
            part["format"] = {"type": "audio/pcm", "rate": rate}
            changed = True
    return session if changed else None
