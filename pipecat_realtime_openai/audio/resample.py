"""Flushable low-latency streaming resampler for 16-bit PCM, and stereo downmix.

The resampler is a polyphase windowed-sinc (Kaiser) FIR evaluated with one matrix product
per call, over blocks of several polyphase groups at once (a banded matrix): with 3
outputs per group the product would be too thin for BLAS, and the overlapping input
windows it needs copied would be copied once per group instead of once per block.
Each output sample is centred on its exact input-time position, so the only
delay is half the kernel width (about 1-3 ms for speech rates), far below the 16-100 ms a
high-quality soxr stream holds back. Whatever is held back is returned by `flush()`, so no
audio is lost at the end of an utterance.

Input can be buffered cheaply with `feed()` and converted later with `drain()`: callers that
batch their output (see `pipeline.py`) run the filter only when a batch can be completed,
which keeps the per-chunk cost low without adding latency.
"""

from __future__ import annotations

import math

import numpy as np

# Stopband attenuation of the kernel: below the noise floor of speech captured by a
# microphone, while keeping the kernel short (latency and CPU scale with its length).
_ATTENUATION_DB = 55.0
# Total transition band as a fraction of the lower of the two Nyquist frequencies, centred
# on it: the passband stays flat to 85% of that Nyquist (6.8 kHz for 16 kHz input, 3.4 kHz
# for 8 kHz output: the telephone band) and aliases can only land in the top 15%.
_TRANSITION_FRACTION = 0.3
_INT16_MIN = -32768.0
_INT16_MAX = 32767.0
# Outputs per block of groups (see `_block_matrix`): enough columns for BLAS to use its
# kernels well, few enough that the block's extra rows (zeros) stay cheap.
_BLOCK_OUTPUTS = 12


def _kaiser_beta(attenuation_db: float) -> float:
    if attenuation_db > 50:
        return 0.1102 * (attenuation_db - 8.7)
    if attenuation_db >= 21:
        return 0.5842 * (attenuation_db - 21) ** 0.4 + 0.07886 * (attenuation_db - 21)
    return 0.0


def _design_polyphase(up: int, down: int, low_nyquist: float) -> tuple[np.ndarray, int]:
    """Build the (span, up) matrix mapping one input window to one group of outputs.

    Args:
        up: Outputs per group.
        down: Input samples consumed per group.
        low_nyquist: The lower Nyquist frequency in cycles per input sample.

    Returns:
        The float32 coefficient matrix and the window's offset (<= 0) relative to the first
        input sample of its group.
    """
    width = _TRANSITION_FRACTION * low_nyquist
    taps = (_ATTENUATION_DB - 7.95) / (14.36 * width)
    half_width = taps / 2
    beta = _kaiser_beta(_ATTENUATION_DB)
    positions = np.arange(up) * down / up  # input-time position of each output in a group
    lo = math.floor(-half_width) + 1
    hi = math.ceil(positions[-1] + half_width) - 1
    offsets = np.arange(lo, hi + 1, dtype=np.float64)
    t = positions[np.newaxis, :] - offsets[:, np.newaxis]
    inside = np.abs(t) < half_width
    window = np.zeros_like(t)
    window[inside] = np.i0(beta * np.sqrt(1 - (t[inside] / half_width) ** 2)) / np.i0(beta)
    kernel = 2 * low_nyquist * np.sinc(2 * low_nyquist * t) * window
    # Unit DC gain per output phase: avoids a periodic gain ripple at the group rate.
    kernel /= kernel.sum(axis=0, keepdims=True)
    return kernel.astype(np.float32), lo


def _block_matrix(matrix: np.ndarray, down: int, groups: int) -> np.ndarray:
    """Stack a group's matrix into one for `groups` consecutive groups.

    Group ``i`` of a block reads the block's input from ``i * down`` on and writes
    outputs ``i * up`` to ``(i + 1) * up``; every other entry of its columns is zero, so
    each output is the same sum of the same products as with the group's own matrix.
    """
    span, up = matrix.shape
    block = np.zeros((span + down * (groups - 1), up * groups), dtype=np.float32)
    for i in range(groups):
        block[down * i : down * i + span, up * i : up * (i + 1)] = matrix
    return block


class StreamResampler:
    """Streaming sample-rate converter for mono 16-bit little-endian PCM.

    After `flush()` the total number of output samples equals
    `round(total_input_samples * out_rate / in_rate)`, and the resampler is ready for a new
    stream (the next utterance) from a clean state.

    Args:
        in_rate: Input sample rate in Hz.
        out_rate: Output sample rate in Hz.

    Raises:
        ValueError: When a rate is not a positive whole number of Hz.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0 or in_rate != int(in_rate) or out_rate != int(out_rate):
            raise ValueError(f"sample rates must be positive integers, got {in_rate} -> {out_rate}")
        in_rate, out_rate = int(in_rate), int(out_rate)
        self.in_rate = in_rate
        self.out_rate = out_rate
        common = math.gcd(in_rate, out_rate)
        self._up = out_rate // common
        self._down = in_rate // common
        self._passthrough = in_rate == out_rate
        low_nyquist = 0.5 * min(in_rate, out_rate) / in_rate
        matrix, lo = _design_polyphase(self._up, self._down, low_nyquist)
        self._span = matrix.shape[0]
        self._block_groups = max(1, _BLOCK_OUTPUTS // self._up)
        self._block = _block_matrix(matrix, self._down, self._block_groups)
        self._block_span = self._block.shape[0]
        # Input a block may read past the buffered samples, for groups not yet complete
        # (their outputs are dropped, but the buffer must hold the reads).
        self._overhang = self._block_span
        # The first window starts -lo samples before the stream: that history is silence.
        self._history = -lo
        self._buf = np.zeros(max(4096, 4 * self._block_span), dtype=np.float32)
        self._fill = self._history
        # The buffer starts at a block; this many of its groups were already returned.
        # A group is always computed at the same place in a block, so each output is the
        # same sum however the input was chunked (BLAS may still round it differently).
        self._done = 0
        self._high = np.full(0, _INT16_MAX, dtype=np.float32)
        self._low = np.full(0, _INT16_MIN, dtype=np.float32)
        self._in_total = 0
        self._out_total = 0
        self._pending = bytearray()  # passthrough only

    @property
    def input_total(self) -> int:
        """Input samples fed since the stream began."""
        return self._in_total

    @property
    def output_total(self) -> int:
        """Output samples returned since the stream began."""
        return self._out_total

    @property
    def latency_samples(self) -> int:
        """Input samples that must follow a sample before its output can be computed."""
        return 0 if self._passthrough else self._span - self._history - 1

    def feed(self, pcm: bytes | bytearray | memoryview) -> None:
        """Buffer input without running the filter.

        Args:
            pcm: Mono 16-bit little-endian samples (an even number of bytes).

        Raises:
            ValueError: When `pcm` has an odd length.
        """
        if len(pcm) % 2:
            raise ValueError(f"16-bit PCM needs an even number of bytes, got {len(pcm)}")
        n = len(pcm) // 2
        self._in_total += n
        if self._passthrough:
            self._pending += pcm
            return
        end = self._fill + n
        if end + self._overhang > len(self._buf):
            grown = np.zeros(max(end + self._overhang, 2 * len(self._buf)), dtype=np.float32)
            grown[: self._fill] = self._buf[: self._fill]
            self._buf = grown
        self._buf[self._fill : end] = np.frombuffer(pcm, dtype="<i2")
        self._fill = end

    def available(self) -> int:
        """Number of output samples `drain()` would return now."""
        if self._passthrough:
            return len(self._pending) // 2
        return (self._groups() - self._done) * self._up

    def _groups(self) -> int:
        """Groups (from the buffer's start) whose input is all buffered."""
        if self._fill < self._span:
            return 0
        return (self._fill - self._span) // self._down + 1

    def input_needed(self, outputs: int) -> int:
        """Input samples still to feed before `drain()` can return at least `outputs` samples.

        Args:
            outputs: The number of output samples wanted.

        Returns:
            0 when enough input is already buffered.
        """
        if self._passthrough:
            return max(0, outputs - len(self._pending) // 2)
        if outputs <= 0:
            return 0
        groups = self._done + -(-outputs // self._up)
        return max(0, self._span + (groups - 1) * self._down - self._fill)

    def drain(self) -> bytes:
        """Convert everything that can be converted without future input.

        Returns:
            Output samples as 16-bit little-endian PCM (may be empty).
        """
        if self._passthrough:
            out = bytes(self._pending)
            self._pending.clear()
            self._out_total += len(out) // 2
            return out
        # _groups(), inline: this runs once per batch.
        fill = self._fill
        groups = 0 if fill < self._span else (fill - self._span) // self._down + 1
        if groups <= self._done:
            return b""
        per_block = self._block_groups
        blocks = -(-groups // per_block)
        windows = np.ndarray(
            (blocks, self._block_span),
            dtype=np.float32,
            buffer=self._buf,
            strides=(per_block * self._down * 4, 4),
        )
        # The windows overlap in memory, which BLAS cannot take: copying them to a
        # contiguous block first is cheaper than letting np.dot do it internally.
        out = np.dot(np.ascontiguousarray(windows), self._block).reshape(-1)
        out = out[self._done * self._up : groups * self._up]
        # Whole blocks are done with; a partial one is computed again next time.
        full = groups // per_block
        consumed = full * per_block * self._down
        remaining = fill - consumed
        self._buf[:remaining] = self._buf[consumed:fill]
        self._fill = remaining
        self._done = groups - full * per_block
        self._out_total += len(out)
        return self._to_pcm16(out)

    def _to_pcm16(self, samples: np.ndarray) -> bytes:
        # In-place rounding and clipping: the filter can overshoot full scale slightly.
        # The bounds are arrays as long as the samples: a ufunc broadcasting a scalar
        # takes twice as long on a batch this short.
        n = len(samples)
        if len(self._high) < n:
            self._high = np.full(n, _INT16_MAX, dtype=np.float32)
            self._low = np.full(n, _INT16_MIN, dtype=np.float32)
        np.rint(samples, out=samples)
        np.minimum(samples, self._high[:n], out=samples)
        np.maximum(samples, self._low[:n], out=samples)
        return samples.astype("<i2").tobytes()

    def process(self, pcm: bytes | bytearray | memoryview) -> bytes:
        """Feed input and return all output that is ready.

        Args:
            pcm: Mono 16-bit little-endian samples.

        Returns:
            Resampled 16-bit little-endian PCM (may be empty while the filter fills).
        """
        self.feed(pcm)
        return self.drain()

    def flush(self) -> bytes:
        """Return everything held back and reset for a new stream.

        Returns:
            The remaining output, so that the stream's total output length is
            `round(total_in * out_rate / in_rate)`.
        """
        target = (self._in_total * self._up * 2 + self._down) // (2 * self._down)
        missing = target - self._out_total
        if self._passthrough:
            out = self.drain()
        elif missing <= 0:
            out = b""
        else:
            # Silence after the stream's end lets the filter reach its last outputs.
            groups_needed = self._done + -(-missing // self._up)
            needed = self._span + (groups_needed - 1) * self._down
            pad = max(0, needed - self._fill)
            self.feed(bytes(2 * pad))
            out = self.drain()[: 2 * missing]
        self.reset()
        return out

    def reset(self) -> None:
        """Drop all buffered input and start a new stream."""
        self._buf[: self._history] = 0.0
        self._fill = self._history
        self._done = 0
        self._in_total = 0
        self._out_total = 0
        self._pending.clear()


def downmix_to_mono(pcm: bytes | bytearray | memoryview, channels: int) -> bytes:
    """Average interleaved channels into one 16-bit channel.

    Args:
        pcm: Interleaved 16-bit little-endian samples.
        channels: Number of interleaved channels (1 returns the input unchanged).

    Returns:
        Mono 16-bit little-endian PCM; a trailing partial frame is dropped.

    Raises:
        ValueError: When `channels` is less than 1.
    """
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}")
    if channels == 1:
        return bytes(pcm)
    frame_bytes = 2 * channels
    usable = len(pcm) - len(pcm) % frame_bytes
    frames = np.frombuffer(pcm, dtype="<i2", count=usable // 2).reshape(-1, channels)
    # Sum in int32 then floor-divide: exact, no overflow, and no float conversion.
    mixed = frames.sum(axis=1, dtype=np.int32) // channels
    return mixed.astype("<i2").tobytes()
