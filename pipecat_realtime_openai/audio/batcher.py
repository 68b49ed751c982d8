"""Fixed-size batching of a byte stream, flushable.

Input audio arrives in 10-20 ms frames; sending fewer, larger `input_audio_buffer.append`
events saves JSON/base64 overhead per event. The batcher cuts the stream into exact
`batch_bytes` pieces and hands back whatever is left when asked to flush.
"""

from __future__ import annotations


class AppendBatcher:
    """Cut a byte stream into batches of exactly `batch_bytes`.

    Args:
        batch_bytes: Size of each full batch; must be positive.

    Raises:
        ValueError: When `batch_bytes` is not positive.
    """

    def __init__(self, batch_bytes: int) -> None:
        if batch_bytes <= 0:
            raise ValueError(f"batch_bytes must be positive, got {batch_bytes}")
        self.batch_bytes = batch_bytes
        self._buf = bytearray()

    @property
    def pending_bytes(self) -> int:
        """Bytes held that do not yet make a full batch."""
        return len(self._buf)

    def push(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add data and return every batch that is now complete.

        Args:
            data: The next bytes of the stream.

        Returns:
            Full batches in stream order (possibly none).
        """
        size = self.batch_bytes
        buffered = len(self._buf)
        if buffered == 0 and len(data) == size:
            # Common steady state: the caller already produced exactly one batch.
            return [bytes(data)]
        if buffered + len(data) < size:
            self._buf += data
            return []
        self._buf += data
        total = len(self._buf)
        full = total - total % size
        with memoryview(self._buf) as view:
            batches = [bytes(view[start : start + size]) for start in range(0, full, size)]
        # Deleting a prefix of a bytearray is amortised O(1) in CPython (it moves a start
        # offset), so the held remainder is not copied on every push.
        del self._buf[:full]
        return batches

    def flush(self) -> bytes:
        """Return the held remainder (possibly empty) and start empty."""
        rest = bytes(self._buf)
        self._buf.clear()
        return rest
