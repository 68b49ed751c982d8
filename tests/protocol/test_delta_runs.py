"""Back-to-back deltas of one content part merge into runs; nothing else moves."""

import base64
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipecat_realtime_openai.protocol.fast import (
    AudioDelta,
    DeltaRun,
    TextDelta,
    TranscriptDelta,
    merge_delta_runs,
)
from pipecat_realtime_openai.protocol.parse import MalformedEvent


def audio(item: str, pcm: bytes, response: str = "r1", content: int = 0) -> AudioDelta:
    encoded = base64.b64encode(pcm).decode("ascii")
    return AudioDelta(response, item, 0, content, encoded)


def transcript(item: str, text: str, response: str = "r1") -> TranscriptDelta:
    return TranscriptDelta(response, item, 0, 0, text)


def shape(events: list[object]) -> list[object]:
    """Each run as (delta type name, number of deltas); other events as themselves."""
    return [(type(e.first).__name__, len(e)) if isinstance(e, DeltaRun) else e for e in events]


def test_consecutive_audio_of_one_item_becomes_one_run() -> None:
    deltas = [audio("i1", b"\x01\x02"), audio("i1", b"\x03\x04"), audio("i1", b"\x05\x06")]
    [run] = merge_delta_runs(deltas)
    assert isinstance(run, DeltaRun)
    assert run.audio() == b"\x01\x02\x03\x04\x05\x06"
    assert run.first is deltas[0]


def test_audio_with_padding_in_the_middle_decodes_each_part() -> None:
    # 1 and 2 bytes encode with "==" and "=" padding: joining the texts would break.
    [run] = merge_delta_runs([audio("i1", b"\x01"), audio("i1", b"\x02\x03"), audio("i1", b"\x04")])
    assert run.audio() == b"\x01\x02\x03\x04"


def test_transcript_between_audio_splits_the_audio_runs() -> None:
    events = [
        audio("i1", b"aa"),
        audio("i1", b"bb"),
        transcript("i1", "Hel"),
        transcript("i1", "lo"),
        audio("i1", b"cc"),
    ]
    merged = merge_delta_runs(events)
    assert shape(merged) == [("AudioDelta", 2), ("TranscriptDelta", 2), ("AudioDelta", 1)]
    assert merged[1].text() == "Hello"
    assert merged[2].audio() == b"cc"


@pytest.mark.parametrize(
    "second",
    [
        audio("i2", b"bb"),  # another item
        audio("i1", b"bb", response="r2"),  # another response
        audio("i1", b"bb", content=1),  # another content part
        TextDelta("r1", "i1", 0, 0, "x"),  # another delta type
    ],
)
def test_deltas_of_another_part_or_type_start_a_new_run(second: object) -> None:
    assert len(merge_delta_runs([audio("i1", b"aa"), second])) == 2


def test_other_events_keep_their_place_and_end_runs() -> None:
    other = MalformedEvent(reason="bad", raw_excerpt="{")
    events = [audio("i1", b"aa"), other, audio("i1", b"bb"), audio("i1", b"cc"), "done"]
    assert shape(merge_delta_runs(events)) == [
        ("AudioDelta", 1),
        other,
        ("AudioDelta", 2),
        "done",
    ]


def test_a_lone_delta_is_a_run_of_one() -> None:
    delta = TextDelta("r1", "i1", 0, 0, "hi")
    [run] = merge_delta_runs([delta])
    assert len(run) == 1 and run.text() == "hi"


def test_empty_run_is_refused_and_repr_hides_the_payload() -> None:
    with pytest.raises(ValueError):
        DeltaRun(())
    run = DeltaRun((audio("i1", b"secret audio"),))
    assert "c2VjcmV0" not in repr(run)  # base64 of "secret"
    assert "AudioDelta x1" in repr(run)


_EVENT = st.one_of(
    st.tuples(st.just("audio"), st.sampled_from(["i1", "i2"]), st.binary(max_size=7)),
    st.tuples(st.just("text"), st.sampled_from(["i1", "i2"]), st.text(max_size=3)),
    st.tuples(st.just("other"), st.just(""), st.just(b"")),
)


@given(st.lists(_EVENT, max_size=30))
def test_merging_keeps_every_payload_in_order(spec: list[tuple]) -> None:
    events: list[object] = []
    for kind, item, payload in spec:
        if kind == "audio":
            events.append(audio(item, payload))
        elif kind == "text":
            events.append(transcript(item, payload))
        else:
            events.append(kind)
    merged = merge_delta_runs(events)
    flattened: list[object] = []
    for entry in merged:
        if isinstance(entry, DeltaRun):
            flattened.extend(entry.deltas)
            # Every delta of a run belongs to the same part as its first.
            assert {(type(d), d.item_id) for d in entry.deltas} == {
                (type(entry.first), entry.first.item_id)
            }
        else:
            flattened.append(entry)
    assert flattened == events
    # Runs are maximal: two neighbouring runs never belong to the same part.
    for left, right in itertools.pairwise(merged):
        if isinstance(left, DeltaRun) and isinstance(right, DeltaRun):
            assert (type(left.first), left.first.item_id) != (
                type(right.first),
                right.first.item_id,
            )
