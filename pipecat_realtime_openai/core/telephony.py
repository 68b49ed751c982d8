"""G.711 on the session when the whole pipeline runs at the telephone rate.

A phone bot's pipeline runs at 8 kHz (Twilio, Telnyx, Plivo and Exotel media streams all
carry 8 kHz G.711). OpenAI takes PCM only at 24 kHz, so with PCM on the session every
input chunk is resampled 8 -> 24 kHz and every output chunk 24 -> 8 kHz, for no gain: the
call itself is narrowband. With ``audio/pcmu`` both ways the audio stays at 8 kHz from end
to end, a sixth of the bytes of 24 kHz PCM on the socket and no resampler on either
hot path. The choice is made only where the session names no format: a format the user
set wins.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pipecat_realtime_openai.core.dialect import Dialect

TELEPHONE_RATE = 8000
"""Sample rate of G.711 telephone audio."""


def telephony_session(
    session: Mapping[str, Any], in_rate: int, out_rate: int, dialect: Dialect
) -> dict[str, Any] | None:
    """Give the session ``audio/pcmu`` both ways for an 8 kHz pipeline.

    Args:
        session: The wanted session (GA wire dict).
        in_rate: The pipeline's input sample rate.
        out_rate: The pipeline's output sample rate.
        dialect: The server's dialect (one that takes PCM at 8 kHz needs no G.711).

    Returns:
        The session with both formats set, or None to leave it as it is: the pipeline
        is not at 8 kHz both ways, the server takes 8 kHz PCM, or a format is set.
    """
    if in_rate != TELEPHONE_RATE or out_rate != TELEPHONE_RATE:
        return None
    if TELEPHONE_RATE in dialect.pcm_rates:
        return None
    audio = session.get("audio")
    if isinstance(audio, Mapping):
        for side in ("input", "output"):
            part = audio.get(side)
            if isinstance(part, Mapping) and part.get("format") is not None:
                return None
    updated = copy.deepcopy(dict(session))
    audio_out = updated.setdefault("audio", {})
    for side in ("input", "output"):
        audio_out.setdefault(side, {})["format"] = {"type": "audio/pcmu"}
    return updated
