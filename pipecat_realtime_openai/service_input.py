"""User audio and video -> client events: the send side of the service.

:class:`InputAudioPath` converts Pipecat audio to the session's input format, batches
it, holds it until the session is configured, and flushes whatever resampling and
batching hold back once input pauses, so no audio is lost at the end of an utterance.
Audio is encoded with :func:`~pipecat_realtime_openai.protocol.fast.encode_append`:
no pydantic model is built per chunk.

:class:`VideoInput` rate-limits video frames and turns them into JPEG data URIs.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from loguru import logger
from PIL import Image

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.audio.pipeline import InputAudioConverter
from pipecat_realtime_openai.core.turn_audio import TurnAudio
from pipecat_realtime_openai.protocol.client_events import (
    InputAudioBufferClearEvent,
    InputAudioBufferCommitEvent,
)
from pipecat_realtime_openai.protocol.fast import encode_append
from pipecat_realtime_openai.protocol.items import ConversationItem, ItemContent
from pipecat_realtime_openai.protocol.session import ImageDetail

DEFAULT_PREROLL_SECS = 0.5
"""Manual-mode pre-roll when no VAD reported its ``start_secs``."""

PAUSE_SLACK = 1.5
"""A pause is acted on between 1x and this many times ``flush_after_ms`` after the last frame."""

PREROLL_MARGIN_SECS = 0.3
"""Added to the VAD's ``start_secs`` when sizing the pre-roll from it."""

SendText = Callable[[str], Awaitable[None]]
StartTask = Callable[[Coroutine[Any, Any, None]], asyncio.Task]
StopTask = Callable[[asyncio.Task], Awaitable[None]]
SendItem = Callable[[ConversationItem], Awaitable[None]]


class InputAudioPath:
    """Converts, batches, holds and sends user audio.

    Args:
        send: Sends one JSON text on the connection.
        target: Initial session input format.
        batch_ms: Audio duration per ``input_audio_buffer.append``.
        flush_after_ms: Input pause after which held-back audio is sent.
        max_pending_secs: Audio kept while the session is not ready (oldest dropped).
        preroll_secs: Fixed manual-mode pre-roll, or None to size it from the VAD.
        turn_audio: Told what audio, commits and clears reach the server, so spoken
            turns can be restored as audio after a reconnect.
    """

    def __init__(
        self,
        send: SendText,
        target: AudioFormatSpec,
        *,
        batch_ms: int,
        flush_after_ms: int,
        max_pending_secs: float,
        preroll_secs: float | None,
        turn_audio: TurnAudio | None = None,
    ) -> None:
        self._send = send
        self._turn_audio = turn_audio
        self._converter = InputAudioConverter(target, batch_ms)
        self._max_pending_secs = max_pending_secs
        self._ready = False
        # Audio chunks, and commits (JSON text) queued in order behind them.
        self._pending: deque[bytes | str] = deque()
        self._pending_bytes = 0
        # Held audio dropped beyond the limit since the last release (one warning each).
        self._dropped_bytes = 0
        self._preroll_fixed = preroll_secs
        self._preroll_secs = preroll_secs if preroll_secs is not None else DEFAULT_PREROLL_SECS
        self._preroll = bytearray()
        self._keep_preroll = False
        # A pause is detected by one loop timer that never fires while frames keep
        # coming: a timer that fires mid-stream to find audio still flowing wakes the
        # process (~180-300 us of CPU per wake-up on the benchmark machine). Replacing
        # the timer costs ~3 us, so it is only pushed back when fewer than
        # `flush_after` seconds are left, to `flush_after * PAUSE_SLACK` from now: a
        # pause is acted on between 1x and 1.5x `flush_after` after the last frame.
        self._flush_after = flush_after_ms / 1000
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pause_timer: asyncio.TimerHandle | None = None
        self._pause_deadline = 0.0
        self._paused = asyncio.Event()
        self._flusher: asyncio.Task | None = None
        # Sends from the frame task and the flusher must not interleave, or audio could
        # reach the server out of order.
        self._lock = asyncio.Lock()
        self.sent_bytes = 0
        """Wire bytes sent so far (for tests and diagnostics)."""

    @property
    def target(self) -> AudioFormatSpec:
        """The session input format audio is converted to."""
        return self._converter.target

    @property
    def ready(self) -> bool:
        """Whether audio goes out immediately (the session is configured)."""
        return self._ready

    def start(self, start_task: StartTask) -> None:
        """Start flushing held-back audio when input pauses (call from the event loop).

        Args:
            start_task: Creates a managed task (the service's ``create_task``).
        """
        self._loop = asyncio.get_running_loop()
        if self._flusher is None:
            self._flusher = start_task(self._flush_on_pause())

    async def stop(self, stop_task: StopTask) -> None:
        """Stop flushing on pauses.

        Args:
            stop_task: Cancels a managed task (the service's ``cancel_task``).
        """
        if self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None
        self._pause_deadline = 0.0
        self._paused.clear()
        if self._flusher is not None:
            flusher, self._flusher = self._flusher, None
            await stop_task(flusher)

    def set_manual_turns(self, manual: bool) -> None:
        """Keep a pre-roll of recent audio (manual turn mode only).

        Args:
            manual: True when local turn detection drives turns.
        """
        self._keep_preroll = manual
        if not manual:
            self._preroll.clear()

    def set_vad_start_secs(self, start_secs: float) -> None:
        """Size the pre-roll from the upstream VAD unless it was fixed by the user.

        Args:
            start_secs: The VAD's ``start_secs``.
        """
        if self._preroll_fixed is None:
            self._preroll_secs = start_secs + PREROLL_MARGIN_SECS

    async def retarget(self, target: AudioFormatSpec) -> None:
        """Switch the input format; audio held in the old format is sent first.

        Args:
            target: The new session input format.
        """
        if target == self._converter.target:
            return
        async with self._lock:
            for chunk in self._converter.retarget(target):
                await self._emit(chunk)
        # Pre-roll in the old format cannot be replayed into the new one.
        self._preroll.clear()
        if self._turn_audio is not None:
            self._turn_audio.timeline.retarget(target)

    async def set_ready(self, ready: bool) -> None:
        """Mark the session configured (or not); held audio is sent in order when ready.

        Args:
            ready: True once ``session.updated`` confirmed the configuration.
        """
        if not ready:
            self._ready = False
            return
        async with self._lock:
            self._warn_about_dropped_audio()
            while self._pending:
                entry = self._pending.popleft()
                if isinstance(entry, str):
                    await self._send_commit(entry)
                else:
                    self._pending_bytes -= len(entry)
                    await self._send_chunk(entry)
            self._ready = True

    @property
    def held_ms(self) -> float:
        """Milliseconds of audio held until the session is ready."""
        return self.target.ms_from_bytes(self._pending_bytes)

    def reset(self, *, keep_held: bool = False) -> None:
        """Forget per-connection state: a new connection is not ready yet.

        Args:
            keep_held: Keep the audio held so far (and hold what comes next) for the
                next connection, as after a dropped connection; False discards it.
        """
        self._ready = False
        self._preroll.clear()
        if not keep_held:
            self._warn_about_dropped_audio()
            self._pending.clear()
            self._pending_bytes = 0

    async def push(self, pcm: bytes, sample_rate: int, num_channels: int) -> None:
        """Convert and send (or hold) one input frame.

        Args:
            pcm: 16-bit PCM, interleaved when stereo.
            sample_rate: The frame's rate.
            num_channels: The frame's channel count.
        """
        async with self._lock:
            for chunk in self._converter.convert(pcm, sample_rate, num_channels):
                await self._emit(chunk)
        loop = self._loop
        if loop is not None and self._flusher is not None:
            now = loop.time()
            if self._pause_deadline - now < self._flush_after:
                if self._pause_timer is not None:
                    self._pause_timer.cancel()
                self._pause_deadline = now + self._flush_after * PAUSE_SLACK
                self._pause_timer = loop.call_at(self._pause_deadline, self._on_pause)

    async def flush(self) -> None:
        """Send everything the resampler and batcher hold back."""
        async with self._lock:
            await self._flush_locked()

    async def commit(self) -> None:
        """Send everything held back, then commit the input buffer (manual turns).

        Before the session is ready the commit waits in line behind the held audio.
        """
        async with self._lock:
            await self._flush_locked()
            text = InputAudioBufferCommitEvent().to_json()
            if self._ready:
                await self._send_commit(text)
            else:
                self._pending.append(text)

    async def clear_and_replay_preroll(self) -> None:
        """Clear the server input buffer, then re-append the recent pre-roll.

        The clear wipes the speech onset that was appended before local turn
        detection fired; replaying the pre-roll keeps it.
        """
        if not self._ready:
            return
        async with self._lock:
            await self._send(InputAudioBufferClearEvent().to_json())
            if self._turn_audio is not None:
                self._turn_audio.on_clear_sent()
            if self._preroll:
                preroll = bytes(self._preroll)
                await self._send(encode_append(preroll))
                if self._turn_audio is not None:
                    self._turn_audio.timeline.on_sent(preroll)

    async def _flush_locked(self) -> None:
        for chunk in self._converter.flush():
            await self._emit(chunk)

    async def _emit(self, chunk: bytes) -> None:
        if self._ready:
            await self._send_chunk(chunk)
            return
        self._pending.append(chunk)
        self._pending_bytes += len(chunk)
        limit = self.target.bytes_from_ms(self._max_pending_secs * 1000)
        while self._pending_bytes > limit and len(self._pending) > 1:
            dropped = self._pending.popleft()
            if isinstance(dropped, str):
                continue  # a commit of audio that is being dropped commits nothing
            self._pending_bytes -= len(dropped)
            self._dropped_bytes += len(dropped)

    def _warn_about_dropped_audio(self) -> None:
        if not self._dropped_bytes:
            return
        dropped_ms = self.target.ms_from_bytes(self._dropped_bytes)
        self._dropped_bytes = 0
        logger.warning(
            f"Input audio held while the session was not ready exceeded "
            f"{self._max_pending_secs:g} s: dropped the oldest {dropped_ms / 1000:.2f} s"
        )

    async def _send_commit(self, text: str) -> None:
        await self._send(text)
        if self._turn_audio is not None:
            self._turn_audio.on_commit_sent()

    async def _send_chunk(self, chunk: bytes) -> None:
        await self._send(encode_append(chunk))
        self.sent_bytes += len(chunk)
        if self._turn_audio is not None:
            self._turn_audio.timeline.on_sent(chunk)
        if self._keep_preroll:
            self._preroll.extend(chunk)
            keep = self.target.bytes_from_ms(self._preroll_secs * 1000)
            if len(self._preroll) > keep:
                del self._preroll[: len(self._preroll) - keep]

    def _on_pause(self) -> None:
        self._pause_timer = None
        self._pause_deadline = 0.0
        self._paused.set()

    async def _flush_on_pause(self) -> None:
        while True:
            await self._paused.wait()
            self._paused.clear()
            try:
                await self.flush()
            except Exception as exc:  # The flusher must outlive a failed send.
                logger.warning(f"Flushing held-back input audio failed: {exc}")


class VideoInput:
    """Rate limit and JPEG encoding of video frames.

    Args:
        max_fps: Most frames accepted per second; 0 or less sends no video.
        detail: Image detail sent with each frame.
    """

    def __init__(self, max_fps: float, detail: ImageDetail) -> None:
        self._min_interval = 1.0 / max_fps if max_fps > 0 else float("inf")
        self._last_sent: float | None = None
        self.detail: ImageDetail = detail

    async def send(
        self, frame: Any, send_item: Callable[[ConversationItem], Awaitable[None]]
    ) -> None:
        """Send a video frame as a user ``input_image`` item, unless rate-limited.

        Args:
            frame: An ``InputImageRawFrame`` (``image``, ``size``, ``format``).
            send_item: Creates a conversation item.
        """
        if not self.accept(time.monotonic()):
            return
        # JPEG encoding takes milliseconds: keep it off the event loop.
        uri = await asyncio.to_thread(self.to_data_uri, frame.image, frame.size, frame.format)
        content = ItemContent(type="input_image", image_url=uri, detail=self.detail)
        await send_item(ConversationItem(type="message", role="user", content=[content]))

    def accept(self, now: float) -> bool:
        """Tell whether a frame arriving at ``now`` may be sent, and count it if so.

        Args:
            now: Monotonic seconds.

        Returns:
            True when enough time passed since the last accepted frame.
        """
        if self._min_interval == float("inf"):
            return False
        if self._last_sent is not None and now - self._last_sent < self._min_interval:
            return False
        self._last_sent = now
        return True

    @staticmethod
    def to_data_uri(image: bytes, size: tuple[int, int], mode: str | None) -> str:
        """Encode raw image bytes as a JPEG data URI.

        Args:
            image: Raw pixels.
            size: Width and height.
            mode: Pillow mode of the pixels (``RGB``, ``RGBA``, ``L``, ...).

        Returns:
            ``data:image/jpeg;base64,...``.
        """
        picture = Image.frombytes(mode or "RGB", size, image)
        if picture.mode != "RGB":
            picture = picture.convert("RGB")
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG")
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
