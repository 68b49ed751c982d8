"""Input and output audio conversion between Pipecat PCM frames and session wire formats.

`InputAudioConverter` turns Pipecat input frames (16-bit PCM at any rate, mono or
interleaved multi-channel) into chunks of the session's input format, ready to base64 into
`input_audio_buffer.append`. `OutputAudioDecoder` turns `response.output_audio.delta`
payloads back into 16-bit PCM for Pipecat.
"""

from __future__ import annotations

from collections.abc import Callable

from pipecat_realtime_openai.audio.batcher import AppendBatcher
from pipecat_realtime_openai.audio.formats import PCMA_TYPE, PCMU_TYPE, AudioFormatSpec
from pipecat_realtime_openai.audio.g711 import (
    alaw_to_pcm16,
    pcm16_to_alaw,
    pcm16_to_ulaw,
    ulaw_to_pcm16,
)
from pipecat_realtime_openai.audio.resample import StreamResampler, downmix_to_mono

_ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    PCMU_TYPE: pcm16_to_ulaw,
    PCMA_TYPE: pcm16_to_alaw,
}
_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    PCMU_TYPE: ulaw_to_pcm16,
    PCMA_TYPE: alaw_to_pcm16,
}


class InputAudioConverter:
    """Convert Pipecat input PCM into batches of a session's input audio format.

    Steps: downmix to mono, resample to the format's rate, G.711-encode when the format
    asks for it, and cut into `batch_ms` batches. The resampling filter only runs when the
    input completes a batch, so batching costs no latency beyond the batch itself: the
    frame that completes `batch_ms` of input sends the batch, short by the filter's
    look-ahead (a few ms), which the next batch carries. Waiting for the look-ahead
    instead would hold every batch back by one more input frame.
    `flush()` returns everything held back (call it when input pauses or a turn ends), so no
    audio is lost.

    Args:
        target: The session's input audio format.
        batch_ms: Duration of each returned chunk, except the last one of a flush.

    Raises:
        ValueError: When `batch_ms` is not positive.
    """

    def __init__(self, target: AudioFormatSpec, batch_ms: int = 40) -> None:
        if batch_ms <= 0:
            raise ValueError(f"batch_ms must be positive, got {batch_ms}")
        self._batch_ms = batch_ms
        self._resampler: StreamResampler | None = None
        # Mono input not yet given to the resampler, and how many bytes of it complete the
        # next batch.
        self._input = bytearray()
        self._input_needed = 0
        self._set_target(target)

    def _set_target(self, target: AudioFormatSpec) -> None:
        self._target = target
        self._encode = _ENCODERS.get(target.wire_type)
        batch_bytes = max(target.bytes_from_ms(self._batch_ms), target.bytes_per_sample)
        self._batch_samples = batch_bytes // target.bytes_per_sample
        self._batcher = AppendBatcher(batch_bytes)
        self._resampler = None

    @property
    def target(self) -> AudioFormatSpec:
        """The format chunks are produced in."""
        return self._target

    @property
    def pending_bytes(self) -> int:
        """Wire bytes converted but not yet returned in a batch.

        Input still waiting for the resampler is not counted: `flush()` returns both.
        """
        return self._batcher.pending_bytes

    def convert(
        self, pcm: bytes | bytearray | memoryview, sample_rate: int, num_channels: int = 1
    ) -> list[bytes]:
        """Convert one input frame.

        Args:
            pcm: 16-bit little-endian PCM, interleaved when `num_channels` > 1.
            sample_rate: The frame's sample rate in Hz; it may change between frames.
            num_channels: Number of interleaved channels.

        Returns:
            Complete `batch_ms` chunks in the target format (often none).

        Raises:
            ValueError: On a non-positive rate or channel count, or a torn 16-bit sample.
        """
        if num_channels != 1:
            pcm = downmix_to_mono(pcm, num_channels)
        elif len(pcm) % 2:
            raise ValueError(f"16-bit PCM needs an even number of bytes, got {len(pcm)}")
        batches: list[bytes] = []
        if self._resampler is None or self._resampler.in_rate != sample_rate:
            if self._resampler is not None:
                # The old stream ends here: emit its tail before switching rates.
                batches.extend(self._drain_input(final=True))
            self._resampler = StreamResampler(sample_rate, self._target.sample_rate)
            self._update_input_needed()
        # Per-frame work is only a byte append: the filter runs once per completed batch.
        self._input += pcm
        if len(self._input) >= self._input_needed:
            batches.extend(self._drain_input(final=False))
        return batches

    def flush(self) -> list[bytes]:
        """Return everything held back by the resampler and the batcher.

        Returns:
            Remaining chunks; the last may be shorter than `batch_ms`. Empty when nothing
            was held.
        """
        batches = self._drain_input(final=True)
        rest = self._batcher.flush()
        if rest:
            batches.append(rest)
        return batches

    def retarget(self, target: AudioFormatSpec) -> list[bytes]:
        """Switch to a new session input format.

        Args:
            target: The new format.

        Returns:
            The audio still held, flushed in the *old* format: send it before the
            format change takes effect. Empty when the format did not change.
        """
        if target == self._target:
            return []
        flushed = self.flush()
        self._set_target(target)
        return flushed

    def _drain_input(self, *, final: bool) -> list[bytes]:
        resampler = self._resampler
        if resampler is None:
            return []
        if self._input:
            resampler.feed(self._input)
            self._input.clear()
        batches = self._push(resampler.flush() if final else resampler.drain())
        self._update_input_needed()
        return batches

    def _update_input_needed(self) -> None:
        # Input (mono bytes) still to come before it covers one batch beyond the output
        # already returned.
        resampler = self._resampler
        if resampler is None:
            return
        outputs = resampler.output_total + self._batch_samples
        inputs = -(-outputs * resampler.in_rate // resampler.out_rate)
        self._input_needed = 2 * max(0, inputs - resampler.input_total)

    def _push(self, pcm: bytes) -> list[bytes]:
        # Batch-sized pieces go out, and so does the rest when it is at least half a
        # batch: in the steady state the rest *is* the batch, short by the look-ahead.
        # A smaller rest (after an unusually long frame) waits for the next batch.
        if not pcm:
            return []
        wire = self._encode(pcm) if self._encode is not None else pcm
        batcher = self._batcher
        batches = batcher.push(wire)
        if 2 * batcher.pending_bytes >= batcher.batch_bytes:
            batches.append(batcher.flush())
        return batches


class OutputAudioDecoder:
    """Decode session output audio into 16-bit PCM for Pipecat frames.

    Args:
        fmt: The session's output audio format.
    """

    def __init__(self, fmt: AudioFormatSpec) -> None:
        self.format = fmt
        self.sample_rate = fmt.sample_rate
        """Sample rate of the decoded PCM."""
        self._decode = _DECODERS.get(fmt.wire_type)
        self.passthrough = self._decode is None
        """The wire audio is already 16-bit PCM: :meth:`decode` returns it unchanged."""

    def decode(self, wire_bytes: bytes) -> bytes:
        """Decode one output audio payload (already base64-decoded).

        Args:
            wire_bytes: Audio in the session's output format.

        Returns:
            16-bit little-endian mono PCM at `sample_rate` (the input itself for pcm).
        """
        if self._decode is None:
            return wire_bytes
        return self._decode(wire_bytes)
