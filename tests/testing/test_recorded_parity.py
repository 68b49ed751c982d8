"""The simulator, driven with the client events of real recorded sessions, answers with
the same sequence of server event types as the real server did."""

from __future__ import annotations

import yaml

from pipecat_realtime_openai.testing import RealtimeSimulator, Reply, ScriptedResponder
from pipecat_realtime_openai.testing.responder import FunctionCall
from tests.conftest import recorded_dir
from tests.testing.sim_client import SimClient, collapse_runs, types


def load(name: str) -> list[dict]:
    path = recorded_dir("openai") / name
    return yaml.safe_load(path.read_text())["interactions"]


def received_types(interactions: list[dict]) -> list[str]:
    return [i["data"]["type"] for i in interactions if i["direction"] == "received"]


async def test_text_in_audio_out_matches_recording_exactly_after_collapsing_deltas():
    interactions = load("text_in_audio_out_turn.yaml")
    expected = received_types(interactions)
    responder = ScriptedResponder([Reply(text="Hi there!")])
    async with RealtimeSimulator(responder=responder) as sim:
        client = await SimClient.open(sim)
        async with client:
            sent = [i["data"] for i in interactions if i["direction"] == "sent"]
            for event in sent:
                await client.send(event)
            got = ["session.created", *types(await client.recv_until("response.done"))]
    assert collapse_runs(got) == collapse_runs(expected)


async def test_tool_call_round_matches_recording_after_collapsing_deltas():
    interactions = load("tool_call_round.yaml")
    expected = received_types(interactions)

    def answer(context):
        return Reply(text=context.last_function_output)

    responder = ScriptedResponder(
        [Reply(function_calls=[FunctionCall("get_weather", {"city": "London"})]), answer]
    )
    async with RealtimeSimulator(responder=responder) as sim:
        client = await SimClient.open(sim)
        async with client:
            got = ["session.created"]
            sent = [i["data"] for i in interactions if i["direction"] == "sent"]
            await client.send(sent[0])
            got += types(await client.recv_until("session.updated"))
            await client.send(sent[1])
            await client.send(sent[2])
            first = await client.recv_until("response.done")
            got += types(first)
            call = next(e for e in first if e["type"] == "response.function_call_arguments.done")
            output = dict(sent[3])
            output["item"] = {**sent[3]["item"], "call_id": call["call_id"]}
            await client.send(output)
            await client.send(sent[4])
            final = await client.recv_until("response.done")
            got += types(final)
    assert collapse_runs(got) == collapse_runs(expected)
    assert final[-1]["response"]["output"][0]["content"][0]["text"] == (
        "It is foggy and 12 degrees in London."
    )
