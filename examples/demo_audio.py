"""Audio helpers of the demo: the user's spoken turn, and saving the bot's voice.

The user's speech is either synthetic (a voiced, syllable-like sound that any energy or
neural VAD takes for speech; the simulator is told separately what it "means") or, when
talking to OpenAI, real speech from OpenAI's text-to-speech endpoint so the model hears
actual words.
"""

from __future__ import annotations

import wave
from pathlib import Path

import aiohttp
import numpy as np
from pipecat.frames.frames import InputAudioRawFrame

USER_SAMPLE_RATE = 16000
"""Rate of the synthetic user audio: what a WebRTC or telephony transport typically delivers."""

BOT_SAMPLE_RATE = 24000
"""Rate of the Realtime API's PCM output, and of the saved WAV file."""

FRAME_MS = 20
OPENAI_SPEECH_URL = "https://api.openai.com/v1/audio/speech"
OPENAI_SPEECH_MODEL = "gpt-4o-mini-tts"


def synthetic_speech(seconds: float, sample_rate: int = USER_SAMPLE_RATE) -> bytes:
    """Make speech-like 16-bit mono PCM: a 180 Hz voice with a 4 Hz syllable rhythm.

    Args:
        seconds: Duration of the "utterance".
        sample_rate: Sample rate of the result.

    Returns:
        Little-endian 16-bit samples.
    """
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    voice = sum(np.sin(2 * np.pi * 180.0 * h * t) / h for h in (1, 2, 3, 4, 5))
    # Syllables swell and fade but never drop to silence, so no VAD ends the turn early.
    envelope = 0.55 + 0.45 * np.abs(np.sin(2 * np.pi * 4.0 * t))
    # Short fades keep the start and end free of clicks.
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02) if len(t) else t
    samples = 0.18 * 32767 * voice / 2.3 * envelope * fade
    return samples.astype("<i2").tobytes()


def silence(seconds: float, sample_rate: int = USER_SAMPLE_RATE) -> bytes:
    """Return `seconds` of digital silence as 16-bit mono PCM."""
    return bytes(2 * int(seconds * sample_rate))


def audio_frames(
    pcm: bytes, sample_rate: int, frame_ms: int = FRAME_MS
) -> list[InputAudioRawFrame]:
    """Cut 16-bit mono PCM into the fixed-size input frames a transport would push.

    Args:
        pcm: The audio.
        sample_rate: Its sample rate.
        frame_ms: Duration of each frame.

    Returns:
        The frames, in order (the last one may be shorter).
    """
    step = 2 * sample_rate * frame_ms // 1000
    return [
        InputAudioRawFrame(audio=pcm[i : i + step], sample_rate=sample_rate, num_channels=1)
        for i in range(0, len(pcm), step)
    ]


async def openai_speech(text: str, api_key: str, timeout_s: float = 20.0) -> bytes:
    """Have OpenAI's text-to-speech endpoint say `text`, as 24 kHz 16-bit mono PCM.

    Args:
        text: What the "user" says.
        api_key: OpenAI API key (sent as a Bearer token only).
        timeout_s: Seconds before the request is abandoned.

    Returns:
        The speech audio at `BOT_SAMPLE_RATE`.

    Raises:
        aiohttp.ClientError: When the request fails.
        TimeoutError: When it takes longer than `timeout_s`.
    """
    body = {
        "model": OPENAI_SPEECH_MODEL,
        "voice": "alloy",
        "input": text,
        "response_format": "pcm",
    }
    headers = {"Authorization": f"Bearer {api_key}"}
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(OPENAI_SPEECH_URL, json=body, headers=headers) as response:
            response.raise_for_status()
            return await response.read()


def save_wav(path: Path, pcm: bytes, sample_rate: int = BOT_SAMPLE_RATE) -> None:
    """Write 16-bit mono PCM to a WAV file.

    Args:
        path: Where to write (parent folders are created).
        pcm: Little-endian 16-bit samples.
        sample_rate: Their sample rate.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)


def pcm_seconds(pcm: bytes, sample_rate: int) -> float:
    """Duration of 16-bit mono PCM in seconds."""
    return len(pcm) / (2 * sample_rate)
