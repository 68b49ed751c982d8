import math

from pipecat_realtime_openai.core.transcript_confidence import transcript_confidence


def test_geometric_mean_of_token_probabilities() -> None:
    logprobs = [{"token": "hi", "logprob": math.log(0.9)}, {"token": "!", "logprob": math.log(0.4)}]
    assert math.isclose(transcript_confidence(logprobs), 0.6)


def test_certain_tokens_give_one_and_nothing_gives_none() -> None:
    assert transcript_confidence([{"logprob": 0.0}]) == 1.0
    assert transcript_confidence([]) is None
    assert transcript_confidence(None) is None


def test_unusable_entries_are_skipped_not_fatal() -> None:
    bent = [{"logprob": "x"}, {"logprob": float("nan")}, {"logprob": True}, "token", {}]
    assert transcript_confidence(bent) is None
    assert math.isclose(transcript_confidence([*bent, {"logprob": math.log(0.5)}]), 0.5)
