"""Truncation that cannot fail: 1,000 interruptions at random moments, zero errors.

Each lane is a whole bot pipeline (service -> a real Pipecat output transport playing
at real time) talking to its own simulator. A lane runs turn after turn and interrupts
each one at a seeded random moment: before any audio was heard, in the middle of an
item, at the boundary between two items of a multi-item response, around a tool call,
or right at the end (just before, or just after the bot stopped speaking). Manual
lanes interrupt with an ``InterruptionFrame`` (local turn detection) and cancel; server
VAD lanes barge in with loud user audio, followed by the ``InterruptionFrame`` that the
pipeline's turn strategy would push. Half the lanes stream replies at real time, the
others as fast as possible. Half the lanes run in a second Python process, so the test
uses both cores of the machine.

The claim: the simulator (which judges truncations exactly as the real server does,
against the audio it generated) never answers a truncate or delete with an error, the
service never pushes an ``ErrorFrame``, every turn gets a response, and every lane ends
with a turn answered in full.

Set ``TRUNCATION_SEED`` / ``TRUNCATION_MOMENTS`` to explore other moments.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import os
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipecat.frames.frames import (
    ErrorFrame,
    InputAudioRawFrame,
    InterruptionFrame,
    ProposedUserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai import events
from pipecat_realtime_openai.audio.formats import PCM24K
from pipecat_realtime_openai.core.lifecycle import Closing, ResponseLifecycle
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.testing import (
    FunctionCall,
    RealtimeSimulator,
    Reply,
    ResponseContext,
    ScriptedResponder,
)
from pipecat_realtime_openai.testing.synth import speak
from tests.reliability.conftest import (
    TRUNCATION_ERROR_CODES,
    Harness,
    PlayoutTransport,
    assert_client_events_official,
    frames_of,
    make_service,
    server_errors,
    silence,
    tone,
    wait_until,
)
from tests.testing.sim_client import SimClient

SEED = int(os.environ.get("TRUNCATION_SEED", "20260421"))
MOMENTS = int(os.environ.get("TRUNCATION_MOMENTS", "1000"))
LANES = int(os.environ.get("TRUNCATION_LANES", "64"))
CHILD_MODULE = "tests.reliability.test_truncation_property"
REPO_ROOT = Path(__file__).resolve().parents[2]
REPORT_MARK = "LANE-REPORTS "

SITUATIONS = ("before_first_audio", "mid_item", "between_items", "after_tool_call", "at_end")
WEIGHTS = (0.14, 0.28, 0.22, 0.16, 0.20)
# Short words (200-420 ms of speech each) keep the 1,000 moments quick.
WORDS = ("Hi", "Sure", "Okay", "Yes", "Right", "Got it", "Alright")
# Boundary moments aim within this much of the boundary (either side).
NEAR_MS = 25
BYTES_PER_MS = 48  # 24 kHz 16-bit mono, the session output format
# How long a lane waits for one step before calling itself stuck. The 64 lanes play
# at real time and already ask about as much CPU as two cores give, so any other load
# on the host stretches every step; the shared 5 s waits then time out on lanes that
# are slow, not stuck (seen with six CPU burners beside the test: lanes a chunk short
# of the reply's end). A lane that is really stuck still fails, only later.
LANE_WAIT_S = 30.0


@dataclass(frozen=True)
class Moment:
    """Where one turn is interrupted.

    Attributes:
        situation: Which kind of moment is aimed at (see ``SITUATIONS``).
        texts: The reply's message items (several for a multi-item response).
        pick: Uniform 0..1 choosing the item or boundary aimed at.
        where: Uniform 0..1 choosing the point inside it.
        variant: Uniform 0..1 choosing a sub-case (e.g. during or after the tool).
    """

    situation: str
    texts: tuple[str, ...]
    pick: float
    where: float
    variant: float

    @property
    def item_bytes(self) -> list[int]:
        """Audio bytes of each message item, as the simulator will synthesize them."""
        return [spoken_bytes(text) for text in self.texts]


@functools.cache
def spoken_bytes(text: str) -> int:
    """Bytes of the simulator's synthetic speech for ``text`` (24 kHz PCM)."""
    return len(speak(text, PCM24K).audio)


def plan_moments(rng: random.Random, count: int) -> list[Moment]:
    """Draw ``count`` moments; multi-item replies where a boundary is aimed at."""
    moments = []
    for _ in range(count):
        situation = rng.choices(SITUATIONS, WEIGHTS)[0]
        items = rng.randint(2, 3) if situation == "between_items" else rng.randint(1, 3)
        texts = tuple(rng.choice(WORDS) for _ in range(items))
        moments.append(Moment(situation, texts, rng.random(), rng.random(), rng.random()))
    return moments


class PlanResponder:
    """Replies by turn: the user's transcript names the turn, the plan says the reply.

    A tool turn first calls ``lookup``; the response after its output speaks the texts.
    """

    def __init__(self) -> None:
        self.plans: dict[str, Moment] = {}

    def reply(self, context: ResponseContext) -> Reply:
        moment = self.plans.get(context.last_user_text or "")
        if moment is None:
            return Reply(text="Fine")
        last = context.items[-1] if context.items else {}
        if moment.situation == "after_tool_call" and last.get("type") != "function_call_output":
            return Reply(function_calls=[FunctionCall("lookup", {"q": "x"})])
        return Reply(text=list(moment.texts))


def classify(moment: Moment, heard: float, segment_over: bool) -> str:
    """Name the moment actually hit, from what the transport had played of the reply.

    Args:
        moment: The moment aimed at.
        heard: Bytes of this turn's reply played when the interruption was sent.
        segment_over: The bot had already stopped speaking this reply.
    """
    if moment.situation == "after_tool_call":
        return "after_tool_call"
    if heard <= 0 and not segment_over:
        return "before_first_audio"
    sizes = moment.item_bytes
    total = sum(sizes)
    near = NEAR_MS * BYTES_PER_MS
    if segment_over or total - heard <= near:
        return "at_end"
    boundary = 0
    for size in sizes[:-1]:
        boundary += size
        if abs(heard - boundary) <= near:
            return "between_items"
    return "mid_item"


@dataclass
class LaneReport:
    """What one lane observed."""

    hit: Counter[str] = field(default_factory=Counter)
    aimed: Counter[str] = field(default_factory=Counter)
    tool_variants: Counter[str] = field(default_factory=Counter)
    truncates: int = 0
    deletes: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_frames: list[str] = field(default_factory=list)
    unanswered_turns: int = 0
    turns: int = 0
    committed_turns: int = 0
    connections: int = 0
    final_answered: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (for the child process to send)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: dict(v) if isinstance(v, Counter) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LaneReport:
        """Rebuild a report sent as JSON by the child process."""
        counters = {name: Counter(data.pop(name)) for name in ("hit", "aimed", "tool_variants")}
        return cls(**counters, **data)


class Lane:
    """One pipeline and its simulator, interrupting turn after turn."""

    def __init__(self, index: int, manual: bool, pace: str, moments: list[Moment]) -> None:
        self.index = index
        self.manual = manual
        self.pace = pace
        self.moments = moments
        self.responder = PlanResponder()
        self.report = LaneReport()
        self.tool_started = asyncio.Event()
        self.tool_gate = asyncio.Event()
        self._turns = 0
        self._interruptions = 0

    def settings(self) -> OpenAIRealtimeLLMService.Settings:
        transcription = events.InputAudioTranscription()
        if self.manual:
            audio_input = events.AudioInput(transcription=transcription, turn_detection=False)
        else:
            audio_input = events.AudioInput(transcription=transcription)
        return OpenAIRealtimeLLMService.Settings(
            session_properties=events.SessionProperties(
                audio=events.AudioConfiguration(input=audio_input)
            )
        )

    async def lookup(self, params: FunctionCallParams) -> None:
        self.tool_started.set()
        await self.tool_gate.wait()
        await params.result_callback({"answer": 42})

    async def open(self, sim: RealtimeSimulator) -> None:
        """Start the lane's pipeline against ``sim`` and wait for the configured session."""
        self.sim = sim
        service = make_service(sim, settings=self.settings())
        service.register_function("lookup", self.lookup)
        self.transport = PlayoutTransport(wait_s=LANE_WAIT_S)
        self.harness = Harness(service, self.transport)
        await self.harness.start()
        self.conn = await sim.wait_for_connection(timeout_s=LANE_WAIT_S)
        await self.conn.wait_for_server_event("session.updated", timeout_s=LANE_WAIT_S)

    async def close(self) -> None:
        """Stop the pipeline; cancel it if it does not end (a failing lane may hang)."""
        try:
            await self.harness.stop()
        except TimeoutError:
            await self.harness.abort()
            raise

    async def run(self) -> LaneReport:
        async with RealtimeSimulator(responder=self.responder, pace=self.pace) as sim:
            try:
                await self.open(sim)
                for number, moment in enumerate(self.moments):
                    try:
                        await self.interrupt_one(moment)
                    except TimeoutError as exc:
                        raise AssertionError(self.stuck(number, moment)) from exc
                try:
                    await self.final_turn()
                except TimeoutError as exc:
                    raise AssertionError(self.stuck(len(self.moments), None)) from exc
            finally:
                await self.close()
            self.collect()
            assert_client_events_official(sim)
        return self.report

    def stuck(self, number: int, moment: Moment | None) -> str:
        """Describe where a lane got stuck, for the failure message."""
        kind = "manual" if self.manual else "server VAD"
        server = [t for t in self.conn.server_event_types if not t.endswith(".delta")]
        return (
            f"lane {self.index} ({kind}, {self.pace}) stuck at moment {number}: {moment}\n"
            f"transport: segments={self.transport.segments} speaking={self.transport.speaking}"
            f" heard={self.transport.segment_position():.0f}\n"
            f"last client events: {self.conn.client_event_types[-12:]}\n"
            f"last server events: {server[-30:]}"
        )

    # -- turns -------------------------------------------------------------------

    @staticmethod
    def frames(audio: bytes) -> list[InputAudioRawFrame]:
        return [
            InputAudioRawFrame(audio=chunk, sample_rate=24000, num_channels=1)
            # 100 ms frames: what matters here is when speech starts, not frame size.
            for chunk in frames_of(audio, 24000, frame_ms=100)
        ]

    async def begin_turn(self, moment: Moment | None) -> int:
        """Let the user speak a turn; return the speaking segment its reply will play in.

        In server VAD lanes the user's speech is also the interruption of the previous
        reply: the speech goes first, the pipeline's ``InterruptionFrame`` follows the
        proposed user start (as with ``ExternalUserTurnStrategies``), and the silence
        that ends the turn comes after, as it would from a live microphone.
        """
        self._turns += 1
        name = f"turn {self.index} {self._turns}"
        if moment is not None:
            self.responder.plans[name] = moment
        self.sim.transcripts.put(name)
        if self.manual:
            segment = self.transport.segments + 1
            await self.harness.send(*self.frames(tone(200)), UserStoppedSpeakingFrame())
            await self.conn.wait_for_client_event(
                "input_audio_buffer.commit", count=self._turns, timeout_s=LANE_WAIT_S
            )
            return segment
        await self.harness.send(*self.frames(tone(200)))
        await self.transport.wait_passed(ProposedUserStartedSpeakingFrame, self._turns)
        await self.send_interruption()
        segment = self.transport.segments + 1
        await self.harness.send(*self.frames(silence(400)))
        return segment

    async def send_interruption(self) -> None:
        """Push an ``InterruptionFrame`` and wait until the transport stopped playing."""
        self._interruptions += 1
        await self.harness.send(InterruptionFrame())
        await self.transport.wait_passed(InterruptionFrame, self._interruptions)
        await self.transport.wait_quiet()

    async def interrupt_one(self, moment: Moment) -> None:
        self.report.aimed[moment.situation] += 1
        if moment.situation == "after_tool_call":
            self.tool_started.clear()
            self.tool_gate.clear()
        segment = await self.begin_turn(moment)
        heard, over = await self.wait_for_moment(moment, segment)
        self.report.hit[classify(moment, heard, over)] += 1
        if self.manual:
            await self.send_interruption()
        # In server VAD lanes the next turn's speech is the interruption.

    async def wait_for_moment(self, moment: Moment, segment: int) -> tuple[float, bool]:
        """Wait until the moment aimed at; return (bytes heard of the reply, bot stopped)."""
        transport = self.transport
        sizes = moment.item_bytes
        total = sum(sizes)
        near = NEAR_MS * BYTES_PER_MS
        situation = moment.situation
        if situation == "after_tool_call":
            await self.wait_around_tool(moment, segment)
        elif situation == "before_first_audio":
            await asyncio.sleep(moment.where * 0.03)
        elif situation == "mid_item":
            index = min(int(moment.pick * len(sizes)), len(sizes) - 1)
            start = sum(sizes[:index])
            inner = max(sizes[index] - 2 * near, 0)
            await transport.wait_segment_position(segment, start + near + moment.where * inner)
        elif situation == "between_items":
            index = min(int(moment.pick * (len(sizes) - 1)), len(sizes) - 2)
            boundary = sum(sizes[: index + 1])
            await transport.wait_segment_position(segment, boundary + (moment.where * 2 - 1) * near)
        elif moment.variant < 0.5:  # at_end: just before the last sample is heard
            await transport.wait_segment_position(segment, total - moment.where * near)
        else:  # at_end: just after the bot stopped speaking
            await self.wait_segment_over(segment)
            await asyncio.sleep(moment.where * 0.03)
        return self.heard(segment)

    async def wait_around_tool(self, moment: Moment, segment: int) -> None:
        if moment.variant < 0.3:
            self.report.tool_variants["during the tool run"] += 1
            await asyncio.wait_for(self.tool_started.wait(), LANE_WAIT_S)
            return
        outputs = self.count_client("conversation.item.create")
        self.tool_gate.set()
        if moment.variant < 0.6:
            self.report.tool_variants["right after the result"] += 1
            await self.conn.wait_for_client_event(
                "conversation.item.create", count=outputs + 1, timeout_s=LANE_WAIT_S
            )
            await asyncio.sleep(moment.where * 0.02)
            return
        self.report.tool_variants["in the answer after the tool"] += 1
        total = sum(moment.item_bytes)
        await self.transport.wait_segment_position(segment, moment.where * total)

    async def wait_segment_over(self, segment: int) -> None:
        transport = self.transport
        await wait_until(
            lambda: (
                transport.segments > segment
                or (transport.segments == segment and not transport.speaking)
            ),
            timeout_s=LANE_WAIT_S,
        )

    def heard(self, segment: int) -> tuple[float, bool]:
        transport = self.transport
        if transport.segments < segment:
            return 0.0, False
        if transport.segments > segment:
            return float("inf"), True
        return transport.segment_position(), not transport.speaking

    def count_client(self, event_type: str) -> int:
        return self.conn.client_event_types.count(event_type)

    async def final_turn(self) -> None:
        """A last turn left alone must be answered in full."""
        self.tool_gate.set()
        before = len(self.conn.server_events)
        segment = await self.begin_turn(None)
        await self.transport.wait_segment_position(segment, 1)
        await self.wait_segment_over(segment)
        await wait_until(lambda: self.completed_after(before), timeout_s=LANE_WAIT_S)
        self.report.final_answered = True

    def completed_after(self, index: int) -> bool:
        return any(
            e.get("type") == "response.done" and e["response"].get("status") == "completed"
            for e in self.conn.server_events[index:]
        )

    def collect(self) -> None:
        report = self.report
        conns = self.sim.connections
        report.errors = server_errors(conns)
        report.error_frames = [f.error for f in self.harness.up.of(ErrorFrame)]
        report.error_frames += [f.error for f in self.harness.down.of(ErrorFrame)]
        report.truncates = sum(
            c.client_event_types.count("conversation.item.truncate") for c in conns
        )
        report.deletes = sum(c.client_event_types.count("conversation.item.delete") for c in conns)
        report.turns = self._turns
        report.connections = len(conns)
        # Every committed user turn gets a response (finished, or cancelled by the user
        # barging in) before the next turn.
        sent = self.conn.server_events
        commits = [i for i, e in enumerate(sent) if e.get("type") == "input_audio_buffer.committed"]
        report.committed_turns = len(commits)
        for position, start in enumerate(commits):
            end = commits[position + 1] if position + 1 < len(commits) else len(sent)
            if not any(e.get("type") == "response.done" for e in sent[start:end]):
                report.unanswered_turns += 1


def make_lane(index: int, moments: list[Moment]) -> Lane:
    """Lane ``index``: its share of the moments; the lane number picks mode and pace."""
    manual = index % 2 == 0
    pace = "realtime" if index % 4 in (2, 3) else "fast"
    return Lane(index, manual, pace, moments[index::LANES])


async def run_lanes(moments: list[Moment], indices: list[int]) -> list[LaneReport]:
    lanes = [make_lane(index, moments) for index in indices]
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(lane.run()) for lane in lanes]
    return [task.result() for task in tasks]


async def run_lanes_in_child(indices: list[int]) -> list[LaneReport]:
    """Run lanes in a second Python process: the machine's second core takes half."""
    env = {
        **os.environ,
        "TRUNCATION_SEED": str(SEED),
        "TRUNCATION_MOMENTS": str(MOMENTS),
        "TRUNCATION_LANES": str(LANES),
        "LOGURU_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        CHILD_MODULE,
        ",".join(map(str, indices)),
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = [line for line in out.decode().splitlines() if line.startswith(REPORT_MARK)]
    if process.returncode != 0 or not lines:
        raise AssertionError(
            f"lanes {indices} failed in the child process:\n{err.decode()[-6000:]}"
        )
    return [LaneReport.from_dict(data) for data in json.loads(lines[-1][len(REPORT_MARK) :])]


def split_lanes() -> tuple[list[int], list[int]]:
    """Lanes for this process and for the child; each half has every mode and pace."""
    here = [index for index in range(LANES) if (index // 4) % 2 == 0]
    there = [index for index in range(LANES) if (index // 4) % 2 == 1]
    return here, there


async def test_a_thousand_interruptions_never_break_truncation():
    rng = random.Random(SEED)
    moments = plan_moments(rng, MOMENTS)
    here, there = split_lanes()
    mine, theirs = await asyncio.gather(run_lanes(moments, here), run_lanes_in_child(there))
    reports = [*mine, *theirs]

    hit = sum((r.hit for r in reports), Counter())
    aimed = sum((r.aimed for r in reports), Counter())
    tool = sum((r.tool_variants for r in reports), Counter())
    errors = [e for r in reports for e in r.errors]
    print(f"\nseed {SEED}: {sum(hit.values())} interruptions in {LANES} lanes")
    for situation in SITUATIONS:
        print(f"  {situation:20s} aimed {aimed[situation]:4d}  hit {hit[situation]:4d}")
    print(f"  tool sub-cases: {dict(tool)}")
    print(
        f"  truncates sent {sum(r.truncates for r in reports)},"
        f" deletes sent {sum(r.deletes for r in reports)},"
        f" server errors {Counter(e.get('code') for e in errors)}"
    )

    assert sum(hit.values()) == MOMENTS
    truncation_errors = [e for e in errors if e.get("code") in TRUNCATION_ERROR_CODES]
    assert truncation_errors == []
    assert [f for r in reports for f in r.error_frames] == []
    assert all(r.final_answered for r in reports)
    assert sum(r.unanswered_turns for r in reports) == 0
    assert all(r.committed_turns == r.turns for r in reports)
    assert all(r.connections == 1 for r in reports)
    # Enough of every situation that a regression in any of them shows.
    for situation in SITUATIONS:
        assert hit[situation] >= MOMENTS * 0.05, f"too few {situation} moments: {hit}"


# -- the interruption that comes right after asking -------------------------------------


def test_a_response_ended_before_it_was_announced_releases_the_request():
    # The server may cancel a response before its response.created goes out; the
    # request must not wait for that creation forever (every later turn would be owed
    # to it, and the bot would never answer again).
    life = ResponseLifecycle()
    assert life.on_response_requested() is True
    assert life.on_response_requested() is False  # the next turn: owed
    closing = life.on_response_done("resp_never_announced")
    assert closing == Closing(full_response_end=True, response_create_due=True)
    assert not life.busy
    assert life.on_response_requested() is True


def test_a_late_done_of_a_known_response_does_not_end_the_request():
    life = ResponseLifecycle()
    life.on_response_created("r1")
    life.on_audio("r1")
    life.on_interrupted()
    assert life.on_response_created("r2") is False  # takes over the open pair
    life.on_response_done("r2")
    assert life.on_response_requested() is True
    # r1's own response.done, arriving late, is not the answer to this request.
    assert life.on_response_done("r1") == Closing()
    assert life.awaiting_creation


async def test_turn_interrupted_right_after_asking_still_leaves_the_bot_answering():
    # At real-time pace the cancel reaches the server while it is still pacing the
    # previous reply, before it announced the new response (the simulator used to end
    # such a response without announcing it, which left the bot silent for good).
    responder = ScriptedResponder([Reply(text="A long story about the sea " * 2)])
    async with RealtimeSimulator(responder=responder, pace="realtime") as sim:
        lane = Lane(0, manual=True, pace="realtime", moments=[])
        try:
            await lane.open(sim)
            await lane.begin_turn(None)
            await lane.conn.wait_for_server_event("response.output_audio.delta", count=2)
            await lane.send_interruption()
            await lane.conn.wait_for_server_event("response.done")
            await lane.begin_turn(None)  # asks for a response...
            await lane.send_interruption()  # ...and the user talks at once
            await lane.final_turn()
        finally:
            await lane.close()
        assert_client_events_official(sim)
    assert not lane.harness.up.of(ErrorFrame)


async def test_simulator_announces_every_response_before_ending_it():
    responder = ScriptedResponder([Reply(text="A long story " * 5), Reply(text="Second one")])
    async with RealtimeSimulator(pace="realtime", responder=responder) as sim:
        client = await SimClient.open(sim)
        try:
            await client.send({"type": "response.create"})
            await client.recv_until("response.output_audio.delta")
            await client.send({"type": "response.cancel"})
            await client.recv_until("response.done")
            await client.send({"type": "response.create"})
            await client.send({"type": "response.cancel"})
            events = await client.recv_until("response.done")
        finally:
            await client.close()
    assert "response.created" in [event["type"] for event in events]


if __name__ == "__main__":
    # The child process of the 1,000-moment test: run the lanes named on the command
    # line and print their reports as one JSON line.
    lane_indices = [int(index) for index in sys.argv[1].split(",")]
    all_moments = plan_moments(random.Random(SEED), MOMENTS)
    lane_reports = asyncio.run(run_lanes(all_moments, lane_indices))
    print(REPORT_MARK + json.dumps([report.to_dict() for report in lane_reports]))
