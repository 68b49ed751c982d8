import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipecat_realtime_openai.audio.batcher import AppendBatcher


def test_batches_are_exact_and_remainder_is_kept() -> None:
    batcher = AppendBatcher(4)
    assert batcher.push(b"ab") == []
    assert batcher.pending_bytes == 2
    assert batcher.push(b"cdefghij") == [b"abcd", b"efgh"]
    assert batcher.pending_bytes == 2
    assert batcher.flush() == b"ij"
    assert batcher.flush() == b""
    assert batcher.pending_bytes == 0


def test_exact_batch_with_empty_buffer() -> None:
    batcher = AppendBatcher(3)
    assert batcher.push(b"xyz") == [b"xyz"]
    assert batcher.push(bytearray(b"123")) == [b"123"]
    assert batcher.push(memoryview(b"4")) == []
    assert batcher.flush() == b"4"


def test_batches_are_immutable_copies() -> None:
    batcher = AppendBatcher(2)
    source = bytearray(b"abcd")
    batches = batcher.push(source)
    source[:] = b"zzzz"
    assert batches == [b"ab", b"cd"]
    assert all(type(batch) is bytes for batch in batches)


def test_invalid_size_rejected() -> None:
    with pytest.raises(ValueError):
        AppendBatcher(0)


@given(
    st.integers(min_value=1, max_value=64),
    st.lists(st.binary(max_size=200), max_size=40),
)
def test_concatenation_is_preserved_for_any_pushes(size: int, pushes: list[bytes]) -> None:
    batcher = AppendBatcher(size)
    out: list[bytes] = []
    for data in pushes:
        out.extend(batcher.push(data))
    assert all(len(batch) == size for batch in out)
    rest = batcher.flush()
    assert len(rest) < size
    assert b"".join(out) + rest == b"".join(pushes)
