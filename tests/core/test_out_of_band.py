"""Out-of-band responses in the core: many at once, told apart by their tag, never the bot's.

The unit tests drive :class:`OutOfBandRequests` with parsed events; the pair tests join
the client core and the simulator's server logic in memory (``tests/core/pair.py``).
"""

from __future__ import annotations

import json
import random

import pytest

from pipecat_realtime_openai.core.actions import OutOfBandResult, RunFunctionCall, Send
from pipecat_realtime_openai.core.context_sync import ContextMessage
from pipecat_realtime_openai.core.dialect import AZURE, OPENAI, XAI
from pipecat_realtime_openai.core.out_of_band import (
    CONVERSATION_AUTO_REFUSED,
    TAG,
    OutOfBandRequests,
    request_properties,
    tagged,
)
from pipecat_realtime_openai.core.session import RealtimeSession
from pipecat_realtime_openai.protocol.client_events import ResponseCancelEvent
from pipecat_realtime_openai.protocol.official import official_client_event_error
from pipecat_realtime_openai.protocol.parse import parse_server_event
from pipecat_realtime_openai.testing import FunctionCall, Reply, ScriptedResponder
from tests.core.pair import SessionPair

HELLO = "Hello there, nice to meet you, how are you today?"
LONG_ASIDE = "An aside that takes a good many steps of text to write out in full."


def _created(request_id: str | None, response_id: str, extra: dict | None = None) -> object:
    metadata = {TAG: request_id, **(extra or {})} if request_id else None
    return parse_server_event(
        json.dumps(
            {
                "type": "response.created",
                "event_id": "e",
                "response": {"id": response_id, "status": "in_progress", "metadata": metadata},
            }
        )
    )


def _done(response_id: str, status: str = "completed", **fields: object) -> object:
    response = {"id": response_id, "status": status, "output": [], **fields}
    return parse_server_event(json.dumps({"type": "response.done", "response": response}))


def _requests(concurrent: bool, *ids: str) -> OutOfBandRequests:
    requests = OutOfBandRequests(concurrent=concurrent)
    for request_id in ids:
        requests.ask(request_id, tagged(request_properties([]), request_id))
    return requests


# -- the request -------------------------------------------------------------------------


def test_properties_carry_every_option_and_the_tag_next_to_the_callers_metadata() -> None:
    properties = tagged(
        request_properties(
            [{"type": "item_reference", "id": "item_1"}],
            instructions="Classify.",
            tools=[{"type": "function", "name": "flag", "parameters": {}}],
            tool_choice={"type": "function", "name": "flag"},
            output_modalities=["audio"],
            metadata={"purpose": "moderation"},
            max_output_tokens=30,
            voice="marin",
        ),
        "7",
    )
    wire = properties.to_dict()
    assert wire["conversation"] == "none"
    assert wire["metadata"] == {"purpose": "moderation", TAG: "7"}
    assert wire["input"] == [{"type": "item_reference", "id": "item_1"}]
    assert wire["audio"] == {"output": {"voice": "marin"}}
    assert wire["tool_choice"] == {"type": "function", "name": "flag"}
    assert wire["max_output_tokens"] == 30
    event = {"type": "response.create", "response": wire}
    assert official_client_event_error(event) is None


def test_no_input_reads_the_conversation_and_an_empty_one_reads_nothing() -> None:
    assert "input" not in request_properties(None).to_dict()
    assert request_properties([]).to_dict()["input"] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conversation": "auto"}, CONVERSATION_AUTO_REFUSED),
        ({"conversation": "conv_1"}, "must be"),
    ],
)
def test_a_response_in_the_conversation_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message[:40]):
        request_properties(None, **kwargs)


def test_metadata_may_not_take_the_services_key_or_its_last_slot() -> None:
    with pytest.raises(ValueError, match="service's own"):
        tagged(request_properties(None, metadata={TAG: "x"}), "1")
    with pytest.raises(ValueError, match="15 pairs"):
        tagged(request_properties(None, metadata={str(i): "v" for i in range(16)}), "1")


def test_a_reference_without_an_id_is_refused() -> None:
    with pytest.raises(ValueError, match="item_reference"):
        request_properties([{"type": "item_reference"}])


# -- many at once --------------------------------------------------------------------------


def test_concurrent_requests_all_go_at_once_even_while_the_conversation_responds() -> None:
    requests = _requests(True, "1", "2", "3")
    events = requests.next_events(conversation_busy=True)
    assert [e.event_id for e in events] == ["oob_1", "oob_2", "oob_3"]
    assert requests.running == 3


def test_serial_requests_go_one_at_a_time_and_only_between_replies() -> None:
    requests = _requests(False, "1", "2")
    assert requests.next_events(conversation_busy=True) == []
    (first,) = requests.next_events(conversation_busy=False)
    assert first.event_id == "oob_1"
    assert requests.next_events(conversation_busy=False) == []
    assert requests.owns(_created("1", "resp_1").response)
    assert requests.on_done(_done("resp_1").response) is not None
    (second,) = requests.next_events(conversation_busy=False)
    assert second.event_id == "oob_2"


def test_each_response_collects_its_own_output_by_response_id() -> None:
    requests = _requests(True, "1", "2")
    requests.next_events(conversation_busy=False)
    assert requests.owns(_created("2", "resp_b", {"kind": "b"}).response)
    assert requests.owns(_created("1", "resp_a").response)
    assert not requests.owns(_created(None, "resp_bot").response)
    assert not requests.owns(_created("99", "resp_x").response)
    requests.on_text("resp_a", "Alpha ")
    requests.on_text("resp_b", "Beta")
    requests.on_text("resp_a", "one.")
    assert not requests.on_text("resp_bot", "bot text")
    requests.on_audio("resp_b", b"\x01\x02")
    requests.on_transcript("resp_b", "spoken")
    requests.on_call_named("resp_b", "call_1", "flag")
    requests.on_function_call("resp_b", "", "call_1", '{"x": 1}')
    usage = {"total_tokens": 9, "input_tokens": 4, "output_tokens": 5}
    b = requests.on_done(_done("resp_b", usage=usage).response, usage)
    a = requests.on_done(_done("resp_a").response)
    assert a is not None and b is not None
    assert (a.request_id, a.text, a.error) == ("1", "Alpha one.", None)
    assert b.response is not None
    assert b.response.response_id == "resp_b"
    assert b.response.audio == b"\x01\x02" and b.response.audio_transcript == "spoken"
    assert [(c.name, c.call_id, c.arguments) for c in b.response.function_calls] == [
        ("flag", "call_1", '{"x": 1}')
    ]
    assert b.response.usage == usage
    assert requests.running == 0


def test_a_failed_response_is_an_error_with_what_it_produced() -> None:
    requests = _requests(True, "1")
    requests.next_events(conversation_busy=False)
    requests.owns(_created("1", "resp_1").response)
    requests.on_text("resp_1", "part")
    details = {"type": "failed", "error": {"type": "server_error", "message": "boom"}}
    outcome = requests.on_done(_done("resp_1", "failed", status_details=details).response)
    assert outcome is not None and outcome.error == "the response failed: boom"
    assert outcome.response is not None and outcome.response.text == "part"


def test_a_refusal_for_being_busy_turns_the_session_serial_and_retries() -> None:
    requests = _requests(True, "1", "2")
    requests.next_events(conversation_busy=True)
    assert requests.on_refused("oob_1", True, "already active") is None
    assert not requests.concurrent
    assert requests.next_events(conversation_busy=True) == []
    requests.owns(_created("2", "resp_2").response)
    requests.on_done(_done("resp_2").response)
    (again,) = requests.next_events(conversation_busy=False)
    assert again.event_id == "oob_1"


def test_another_refusal_fails_only_its_request() -> None:
    requests = _requests(True, "1", "2")
    requests.next_events(conversation_busy=False)
    outcome = requests.on_refused("oob_2", False, "bad tools")
    assert outcome is not None and (outcome.request_id, outcome.error) == ("2", "bad tools")
    assert requests.running == 1
    assert requests.on_refused("resp_9", False, "not ours") is None


def test_cancel_waits_for_the_response_id_then_names_it() -> None:
    requests = _requests(True, "1")
    requests.next_events(conversation_busy=False)
    assert requests.cancel("1") == ([], None)
    requests.owns(_created("1", "resp_1").response)
    cancel = requests.cancel_due(_created("1", "resp_1").response)
    assert isinstance(cancel, ResponseCancelEvent) and cancel.response_id == "resp_1"
    outcome = requests.on_done(_done("resp_1", "cancelled").response)
    assert outcome is not None and outcome.response is not None
    assert outcome.response.status == "cancelled"


def test_cancel_of_a_waiting_request_ends_it_unsent() -> None:
    requests = _requests(False, "1")
    events, outcome = requests.cancel("1")
    assert events == [] and outcome is not None and outcome.error
    assert requests.next_events(conversation_busy=False) == []


def test_a_closed_connection_ends_every_request() -> None:
    requests = _requests(False, "1", "2")
    requests.next_events(conversation_busy=False)
    ended = requests.fail_all("closed")
    assert sorted(o.request_id for o in ended) == ["1", "2"]
    assert all(o.error == "closed" for o in ended)
    assert requests.running == 0


def test_dialects_that_promise_parallel_responses_run_them_concurrently() -> None:
    assert OPENAI.concurrent_out_of_band and AZURE.concurrent_out_of_band
    assert not XAI.concurrent_out_of_band
    session = RealtimeSession({"type": "realtime"}, model="grok", dialect=XAI, rng=random.Random(0))
    assert not session._out_of_band.concurrent


# -- with the simulator's server ----------------------------------------------------------


def _results(pair: SessionPair) -> dict[str, OutOfBandResult]:
    return {a.request_id: a for a in pair.actions if isinstance(a, OutOfBandResult)}


def _ask(pair: SessionPair, request_id: str, **kwargs: object) -> None:
    pair.handle(pair.client.out_of_band(request_id, **kwargs))  # type: ignore[arg-type]


def test_three_side_answers_run_next_to_a_spoken_reply_which_is_unchanged() -> None:
    def alone() -> SessionPair:
        pair = SessionPair(responder=ScriptedResponder([Reply(text=HELLO)]))
        pair.context("Hi")
        return pair

    baseline = alone()
    responder = ScriptedResponder(
        [Reply(text=HELLO)],
        then=ScriptedResponder([]),
        out_of_band=[lambda ctx: Reply(text=f"Answer {ctx.metadata['n']}.") for _ in range(3)],
    )
    pair = SessionPair(responder=responder)
    pair.context("Hi", pump=False)
    pair.pump(max_response_steps=3)
    assert pair.server.active is not None, "the bot's reply is still streaming"
    for n in "123":
        _ask(pair, n, input_items=[ContextMessage(role="user", text=f"q{n}")], metadata={"n": n})
    pair.pump()

    results = _results(pair)
    assert {k: v.text for k, v in results.items()} == {
        "1": "Answer 1.",
        "2": "Answer 2.",
        "3": "Answer 3.",
    }
    assert all(r.error is None for r in results.values())
    # The bot's reply: the same frames, audio and transcript as without them.
    names = [n for n in pair.names if n not in ("Send", "OutOfBandResult", "Notify")]
    base_names = [n for n in baseline.names if n not in ("Send", "Notify")]
    assert names == base_names
    assert pair.audio == baseline.audio and pair.transcripts == baseline.transcripts
    # Their events interleaved with the reply's on the wire.
    created = [e["response"]["id"] for e in pair.received("response.created")]
    done = [e["response"]["id"] for e in pair.received("response.done")]
    assert len(created) == 4
    assert done.index(created[0]) == 3, "the side answers finished while the reply streamed"
    # Nothing joined the conversation: the user message and the reply only.
    assert [i["type"] for i in pair.server.store.items] == ["message", "message"]
    assert pair.client.conversation.mirror.ids() == [i["id"] for i in pair.server.store.items]


def test_a_side_function_call_comes_back_unrun_and_the_bot_turn_goes_on() -> None:
    call = FunctionCall("flag", {"level": "high"}, call_id="call_side")
    pair = SessionPair(responder=ScriptedResponder([], out_of_band=[Reply(function_calls=[call])]))
    tools = [{"type": "function", "name": "flag", "parameters": {"type": "object"}}]
    _ask(pair, "1", input_items=[], tools=tools, tool_choice="required")
    pair.pump()
    result = _results(pair)["1"]
    assert result.response is not None
    assert [(c.name, c.call_id) for c in result.response.function_calls] == [("flag", "call_side")]
    assert json.loads(result.response.function_calls[0].arguments) == {"level": "high"}
    assert not [a for a in pair.actions if isinstance(a, RunFunctionCall)]
    assert pair.client.conversation.mirror.ids() == []
    assert pair.count("ResponseStarted") == 0


def test_audio_is_collected_with_its_transcript_and_never_played() -> None:
    pair = SessionPair(responder=ScriptedResponder([], out_of_band=[Reply(text="Spoken aside.")]))
    _ask(pair, "1", input_items=[], output_modalities=["audio"], voice="marin")
    pair.pump()
    result = _results(pair)["1"]
    assert result.response is not None
    assert result.response.audio_transcript == "Spoken aside."
    assert len(result.response.audio) == sum(len(a) for a in pair.server_audio.values()) > 0
    assert pair.audio == b"" and pair.transcripts == []
    assert pair.sent("response.create")[0]["response"]["audio"]["output"]["voice"] == "marin"


def test_cancelling_a_running_side_answer_cancels_only_it() -> None:
    pair = SessionPair(responder=ScriptedResponder([Reply(text=HELLO)], out_of_band=[Reply(HELLO)]))
    pair.context("Hi", pump=False)
    pair.pump(max_response_steps=2)
    _ask(pair, "1", input_items=[])
    pair.pump(max_response_steps=2)
    pair.handle(pair.client.cancel_out_of_band("1"))
    pair.pump()
    (cancel,) = pair.sent("response.cancel")
    result = _results(pair)["1"]
    assert result.response is not None and result.response.status == "cancelled"
    assert cancel["response_id"] == result.response.response_id
    statuses = [e["response"]["status"] for e in pair.received("response.done")]
    assert sorted(statuses) == ["cancelled", "completed"]
    assert "".join(pair.transcripts) == HELLO


def test_a_dropped_connection_fails_the_side_answers_and_the_session_goes_on() -> None:
    pair = SessionPair(responder=ScriptedResponder([], out_of_band=[Reply(HELLO)]))
    _ask(pair, "1", input_items=[])
    pair.pump(max_response_steps=2)
    pair.drop()
    result = _results(pair)["1"]
    assert result.error is not None and "closed" in result.error
    pair.reconnect()
    _ask(pair, "2", input_items=[])
    pair.pump()
    assert _results(pair)["2"].error is None


def test_serial_dialect_waits_for_the_bots_reply() -> None:
    responder = ScriptedResponder([Reply(text=HELLO)], out_of_band=[Reply("Aside.")])
    pair = SessionPair(responder=responder)
    pair.client._out_of_band.concurrent = False
    pair.context("Hi", pump=False)
    pair.pump(max_response_steps=2)
    _ask(pair, "1", input_items=[])
    pair.pump(max_response_steps=0)
    assert len(pair.sent("response.create")) == 1, "held while the bot replies"
    pair.pump()
    creates = pair.sent("response.create")
    assert len(creates) == 2 and creates[1]["response"]["conversation"] == "none"
    assert _results(pair)["1"].text == "Aside."


def test_sends_are_well_formed_for_the_official_types() -> None:
    pair = SessionPair(responder=ScriptedResponder([], out_of_band=[Reply("x")]))
    pair.context("Hi")
    item_id = pair.server.store.items[0]["id"]
    _ask(pair, "1", input_items=[{"type": "item_reference", "id": item_id}], metadata={"a": "b"})
    pair.pump()
    for action in pair.actions:
        if isinstance(action, Send):
            assert official_client_event_error(action.event.to_dict()) is None
    assert _results(pair)["1"].response is not None


def test_a_server_that_runs_one_at_a_time_turns_the_client_serial() -> None:
    responder = ScriptedResponder([Reply(text=HELLO)], out_of_band=[Reply("Aside.")])
    pair = SessionPair(responder=responder)
    pair.server.parallel_out_of_band = False
    pair.context("Hi", pump=False)
    pair.pump(max_response_steps=2)
    _ask(pair, "1", input_items=[])
    pair.pump()
    assert not pair.client._out_of_band.concurrent
    refused = [e["error"]["code"] for e in pair.received("error")]
    assert refused == ["conversation_already_has_active_response"]
    assert pair.reported == [], "handled, not reported"
    assert _results(pair)["1"].text == "Aside."
    assert "".join(pair.transcripts) == HELLO


def test_the_bots_request_refused_behind_a_side_answer_goes_out_after_it() -> None:
    responder = ScriptedResponder([Reply(text=HELLO)], out_of_band=[Reply(LONG_ASIDE)])
    pair = SessionPair(responder=responder)
    pair.server.parallel_out_of_band = False
    pair.client._out_of_band.concurrent = False
    _ask(pair, "1", input_items=[])
    pair.pump(max_response_steps=2)
    pair.context("Hi")
    assert _results(pair)["1"].text == LONG_ASIDE
    assert [e["error"]["code"] for e in pair.received("error")] == [
        "conversation_already_has_active_response"
    ]
    assert "".join(pair.transcripts) == HELLO, "the bot still answers, once"
    assert pair.count("ResponseStarted") == pair.count("ResponseEnded")
    assert len(pair.received("response.done")) == 2


def test_an_interruption_cancels_the_bots_reply_by_name_and_spares_the_side_answer() -> None:
    manual = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    responder = ScriptedResponder([Reply(text=HELLO)], out_of_band=[Reply(LONG_ASIDE)])
    pair = SessionPair(manual, responder=responder)
    pair.context("Hi", pump=False)
    pair.pump(max_response_steps=3)
    _ask(pair, "1", input_items=[])
    pair.pump(max_response_steps=2)
    pair.interruption()
    pair.pump()
    (cancel,) = pair.sent("response.cancel")
    bot_id = pair.received("response.created")[0]["response"]["id"]
    assert cancel["response_id"] == bot_id
    result = _results(pair)["1"]
    assert result.response is not None and result.response.status == "completed"
    assert result.text == LONG_ASIDE
