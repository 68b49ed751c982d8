"""A Pipecat Flows conversation on pipecat-realtime-openai: a pizza order in four nodes.

Run it from the repository root::

    python3 -m venv .venv && .venv/bin/pip install -q -e ".[examples]"
    .venv/bin/python examples/flows_bot.py

With ``OPENAI_API_KEY`` set it talks to the OpenAI Realtime API; without it, to the
Realtime simulator bundled with this package, started in-process, scripted to play the
model (no key, no network). The customer's turns are typed (``LLMMessagesAppendFrame``),
so it runs anywhere; in a voice bot they would be spoken.

The flow, and the context strategy of each transition:

* ``greeting`` -> ``order`` (APPEND): the conversation goes on;
* ``order`` -> ``confirm`` (RESET_WITH_SUMMARY): the history is replaced by a summary
  the service writes out of band (``run_inference``), then the node's task;
* ``confirm`` -> ``goodbye`` (RESET): only the new node's task is left.

Each node's instructions and functions reach the server before its first reply, and
the server's conversation follows the context of each strategy (the service diffs the
context against what the server holds and sends only the deletes and creates).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from loguru import logger
from pipecat.flows import (
    ContextStrategy,
    ContextStrategyConfig,
    FlowArgs,
    FlowManager,
    FlowResult,
    FlowsFunctionSchema,
    NodeConfig,
)
from pipecat.frames.frames import EndFrame, LLMFullResponseEndFrame, LLMMessagesAppendFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from pipecat_realtime_openai import OpenAIRealtimeLLMService, events
from pipecat_realtime_openai.testing import (
    FunctionCall,
    RealtimeSimulator,
    Reply,
    ScriptedResponder,
)

ROLE = "You are Tom, who takes pizza orders by phone. Keep every answer to one sentence."
SUMMARY_PROMPT = "Summarise the order so far in one sentence."
CUSTOMER_TURNS = ["I'd like a pizza, please.", "A large margherita.", "Yes, that's right."]


async def start_order(args: FlowArgs, flow_manager: FlowManager) -> tuple[None, NodeConfig]:
    """The customer wants to order: on to the order node."""
    return None, order_node()


async def record_order(args: FlowArgs, flow_manager: FlowManager) -> tuple[FlowResult, NodeConfig]:
    """Keep the order; on to the confirmation, with the history summarised."""
    flow_manager.state["order"] = {"pizza": args["pizza"], "size": args["size"]}
    return {"status": "recorded"}, confirm_node()


async def confirm_order(args: FlowArgs, flow_manager: FlowManager) -> tuple[None, NodeConfig]:
    """The customer confirmed: say goodbye, with nothing but that task left."""
    return None, goodbye_node()


def greeting_node() -> NodeConfig:
    return {
        "name": "greeting",
        "role_message": ROLE,
        "task_messages": [
            {
                "role": "developer",
                "content": "Greet the customer. When they want to order, call start_order.",
            }
        ],
        "functions": [
            FlowsFunctionSchema(
                name="start_order",
                description="The customer wants to order a pizza.",
                properties={},
                required=[],
                handler=start_order,
            )
        ],
    }


def order_node() -> NodeConfig:
    return {
        "name": "order",
        "task_messages": [
            {
                "role": "developer",
                "content": "Ask which pizza and size, then call record_order with them.",
            }
        ],
        "functions": [
            FlowsFunctionSchema(
                name="record_order",
                description="Record the customer's pizza and its size.",
                properties={"pizza": {"type": "string"}, "size": {"type": "string"}},
                required=["pizza", "size"],
                handler=record_order,
            )
        ],
        "context_strategy": ContextStrategyConfig(strategy=ContextStrategy.APPEND),
    }


def confirm_node() -> NodeConfig:
    return {
        "name": "confirm",
        "task_messages": [
            {
                "role": "developer",
                "content": "Read the order back. When the customer agrees, call confirm_order.",
            }
        ],
        "functions": [
            FlowsFunctionSchema(
                name="confirm_order",
                description="The customer confirmed the order.",
                properties={},
                required=[],
                handler=confirm_order,
            )
        ],
        "context_strategy": ContextStrategyConfig(
            strategy=ContextStrategy.RESET_WITH_SUMMARY, summary_prompt=SUMMARY_PROMPT
        ),
    }


def goodbye_node() -> NodeConfig:
    return {
        "name": "goodbye",
        "task_messages": [{"role": "developer", "content": "Thank the customer; say goodbye."}],
        "functions": [],
        "context_strategy": ContextStrategyConfig(strategy=ContextStrategy.RESET),
    }


def scripted_model() -> ScriptedResponder:
    """The replies the simulator gives in place of a model, in the order they are asked."""
    return ScriptedResponder(
        [
            Reply(text="Hi, this is Tom. What can I get you?"),
            Reply(function_calls=[FunctionCall("start_order", {})]),
            Reply(text="Which pizza, and what size?"),
            Reply(
                function_calls=[
                    FunctionCall("record_order", {"pizza": "margherita", "size": "large"})
                ]
            ),
            Reply(text="The customer ordered a large margherita pizza."),  # the summary
            Reply(text="One large margherita, is that right?"),
            Reply(function_calls=[FunctionCall("confirm_order", {})]),
            Reply(text="Thank you, goodbye!"),
        ]
    )


class Replies(FrameProcessor):
    """Prints the bot's replies and counts them, so each customer turn waits for one."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.changed = asyncio.Event()
        self._text: list[str] = []

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        text = getattr(frame, "text", None)
        if direction == FrameDirection.DOWNSTREAM and type(frame).__name__ == "TTSTextFrame":
            self._text.append(text or "")
        if isinstance(frame, LLMFullResponseEndFrame):
            reply = "".join(self._text).strip()
            self._text.clear()
            if reply:
                print(f"bot: {reply}")
                self.count += 1
                self.changed.set()
        await self.push_frame(frame, direction)

    async def wait_for(self, count: int, timeout_s: float = 30.0) -> None:
        async with asyncio.timeout(timeout_s):
            while self.count < count:
                self.changed.clear()
                await self.changed.wait()


def build_service(api_key: str, base_url: str | None) -> OpenAIRealtimeLLMService:
    # Typed turns: server turn detection off, text replies (with a transcript if audio).
    session = events.SessionProperties(
        audio=events.AudioConfiguration(input=events.AudioInput(turn_detection=False))
    )
    settings = OpenAIRealtimeLLMService.Settings(session_properties=session)
    kwargs: dict[str, Any] = {"api_key": api_key, "settings": settings}
    if base_url is not None:
        kwargs["base_url"] = base_url
    return OpenAIRealtimeLLMService(**kwargs)


async def converse(llm: OpenAIRealtimeLLMService) -> dict[str, Any]:
    """Run the flow to its end; return the flow's state."""
    pair = LLMContextAggregatorPair(LLMContext())
    replies = Replies()
    worker = PipelineWorker(
        Pipeline([pair.user(), llm, replies, pair.assistant()]),
        params=PipelineParams(),
        enable_rtvi=False,
    )
    runner = WorkerRunner()
    await runner.add_workers(worker)
    run = asyncio.create_task(runner.run())
    flow = FlowManager(worker=worker, llm=llm, context_aggregator=pair)
    await flow.initialize(greeting_node())
    await replies.wait_for(1)
    for number, turn in enumerate(CUSTOMER_TURNS, start=2):
        print(f"customer: {turn}")
        await worker.queue_frame(
            LLMMessagesAppendFrame(messages=[{"role": "user", "content": turn}], run_llm=True)
        )
        await replies.wait_for(number)
    await worker.queue_frame(EndFrame())
    await run
    return dict(flow.state)


async def main_async() -> int:
    api_key = os.environ.get("OPENAI_API_KEY")
    if api_key:
        state = await converse(build_service(api_key, None))
    else:
        async with RealtimeSimulator(responder=scripted_model()) as simulator:
            state = await converse(build_service("sk-simulator", simulator.base_url))
    print(f"order: {state.get('order')}")
    return 0 if state.get("order") else 1


def main() -> int:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    return asyncio.run(main_async())


if __name__ == "__main__":
    sys.exit(main())
