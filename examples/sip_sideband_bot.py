"""A phone bot: OpenAI answers a SIP call; this app controls it over a sideband WebSocket.

1. OpenAI posts a ``realtime.call.incoming`` webhook to ``/openai/webhook`` (a FastAPI
   app, served by uvicorn: both come with the ``examples`` extra, through Pipecat's
   runner).
2. The app verifies it (``OPENAI_WEBHOOK_SECRET``) and accepts the call with a session
   configuration (``RealtimeCalls.accept``).
3. A Pipecat pipeline runs an ``OpenAIRealtimeLLMService`` connected with the call's
   ``call_id``: the caller's audio and the bot's voice stay on OpenAI's side, while the
   pipeline gets the transcripts (printed here) and runs the tools (opening hours,
   hanging up).

Against OpenAI (a SIP trunk pointed at ``sip:<project id>@sip.api.openai.com;transport=tls``
and a project webhook for ``realtime.call.incoming`` pointing at this server)::

    .venv/bin/pip install -e ".[examples]"
    export OPENAI_API_KEY=sk-... OPENAI_WEBHOOK_SECRET=whsec_...
    .venv/bin/python examples/sip_sideband_bot.py --serve --port 8000

Without a key it plays one call against the bundled simulator, in-process: the
simulator rings a call and posts the signed webhook to this app on a loopback port,
the app accepts it, a scripted caller asks for the opening hours, the bot looks them
up, and hangs up when the caller says goodbye::

    .venv/bin/python examples/sip_sideband_bot.py
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
from typing import Any

import uvicorn
from dotenv import load_dotenv
from fastapi import FastAPI, Request, Response
from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    EndFrame,
    LLMFullResponseEndFrame,
    LLMRunFrame,
    TranscriptionFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import FunctionCallParams, FunctionCallResultProperties
from pipecat.workers.runner import WorkerRunner

from pipecat_realtime_openai import (
    OpenAIRealtimeLLMService,
    RealtimeCalls,
    WebhookVerificationError,
    unwrap_incoming_call,
)
from pipecat_realtime_openai.testing import (
    FunctionCall,
    RealtimeSimulator,
    Reply,
    ScriptedResponder,
)

load_dotenv(override=True)

INSTRUCTIONS = (
    "You answer the phone for Ada's bakery. Be brief and warm. Use opening_hours for "
    "questions about when the bakery is open; call end_call once the caller says goodbye."
)

CALL_SESSION: dict[str, Any] = {
    "type": "realtime",
    "model": "gpt-realtime-2.1",
    "instructions": INSTRUCTIONS,
    "audio": {
        "input": {"transcription": {"model": "gpt-realtime-whisper"}},
        "output": {"voice": "marin"},
    },
}
"""What the call is accepted with (the sideband service sends its own update on top)."""

TOOLS = ToolsSchema(
    standard_tools=[
        FunctionSchema(
            name="opening_hours",
            description="When the bakery opens and closes on a day.",
            properties={"day": {"type": "string", "description": "e.g. today, tomorrow"}},
            required=["day"],
        ),
        FunctionSchema(
            name="end_call",
            description="Hang up, once the caller said goodbye.",
            properties={},
            required=[],
        ),
    ]
)


class TranscriptLog(FrameProcessor):
    """Prints the caller's transcripts (upstream) or the bot's replies (downstream)."""

    def __init__(self, side: str) -> None:
        super().__init__()
        self._side = side
        self._text: list[str] = []
        self.replies = 0
        self.changed = asyncio.Event()

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if self._side == "caller" and isinstance(frame, TranscriptionFrame):
            print(f"caller: {frame.text}", flush=True)
        elif self._side == "bot" and isinstance(frame, TTSTextFrame):
            self._text.append(frame.text)
        elif self._side == "bot" and isinstance(frame, LLMFullResponseEndFrame):
            reply = "".join(self._text).strip()
            self._text.clear()
            if reply:
                print(f"bot: {reply}", flush=True)
                self.replies += 1
                self.changed.set()
        await self.push_frame(frame, direction)

    async def wait_for(self, replies: int, timeout_s: float = 30.0) -> None:
        """Wait until the bot has said this many replies."""
        async with asyncio.timeout(timeout_s):
            while self.replies < replies:
                self.changed.clear()
                await self.changed.wait()


class PhoneDesk:
    """The webhook receiver, and one pipeline per accepted call.

    Args:
        api_key: OpenAI API key (REST and sideband).
        webhook_secret: The webhook endpoint's ``whsec_...`` secret.
        rest_base_url: OpenAI's REST root (the simulator's ``calls_base_url``).
        realtime_base_url: The Realtime WebSocket endpoint (the simulator's ``base_url``).
    """

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        rest_base_url: str = "https://api.openai.com/v1",
        realtime_base_url: str = "wss://api.openai.com/v1/realtime",
    ) -> None:
        self._api_key = api_key
        self._secret = webhook_secret
        self._realtime_base_url = realtime_base_url
        self.calls = RealtimeCalls(api_key, rest_base_url)
        self.bot_logs: dict[str, TranscriptLog] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.app = FastAPI()
        self.app.add_api_route("/openai/webhook", self.webhook, methods=["POST"])

    async def webhook(self, request: Request) -> Response:
        """Verify the delivery, accept the call, start its pipeline; answer at once."""
        body = await request.body()
        try:
            call = unwrap_incoming_call(body, dict(request.headers), secret=self._secret)
        except WebhookVerificationError as exc:
            logger.warning(f"refused a webhook: {exc}")
            return Response(status_code=400)
        print(f"webhook: call from {call.sip_header('From')}", flush=True)
        await self.calls.accept(call.call_id, CALL_SESSION)
        self.bot_logs[call.call_id] = TranscriptLog("bot")
        self.tasks[call.call_id] = asyncio.create_task(self.run_call(call.call_id))
        return Response(status_code=200)

    def build_service(self, call_id: str) -> OpenAIRealtimeLLMService:
        """The Realtime service controlling one call, with the tools registered."""
        llm = OpenAIRealtimeLLMService(
            api_key=self._api_key,
            base_url=self._realtime_base_url,
            call_id=call_id,
            settings=OpenAIRealtimeLLMService.Settings(system_instruction=INSTRUCTIONS),
        )

        async def opening_hours(params: FunctionCallParams) -> None:
            await params.result_callback({"day": params.arguments.get("day"), "open": "07:00"})

        async def end_call(params: FunctionCallParams) -> None:
            # Nothing more to say: the call ends, and with it the sideband socket.
            await params.result_callback(
                {"ok": True}, properties=FunctionCallResultProperties(run_llm=False)
            )
            await self.calls.hangup(call_id)

        llm.register_function("opening_hours", opening_hours)
        # A goodbye said over the bot must not cancel the hang-up.
        llm.register_function("end_call", end_call, cancel_on_interruption=False)
        return llm

    async def run_call(self, call_id: str) -> None:
        """One call's pipeline, until the call ends."""
        llm = self.build_service(call_id)
        pair = LLMContextAggregatorPair(LLMContext(tools=TOOLS))
        worker = PipelineWorker(
            Pipeline(
                [
                    pair.user(),
                    TranscriptLog("caller"),
                    llm,
                    self.bot_logs[call_id],
                    pair.assistant(),
                ]
            ),
            params=PipelineParams(),
            enable_rtvi=False,
        )

        @llm.event_handler("on_call_ended")
        async def _ended(service: OpenAIRealtimeLLMService, reason: str) -> None:
            print("call ended", flush=True)
            await worker.queue_frame(EndFrame())

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        # The bot speaks first: a greeting from the context and its tools.
        await worker.queue_frame(LLMRunFrame())
        await runner.run()


def scripted_model() -> ScriptedResponder:
    """The replies the simulator gives in place of a model, in order."""
    return ScriptedResponder(
        [
            Reply(text="Ada's bakery, how can I help?"),
            Reply(function_calls=[FunctionCall("opening_hours", {"day": "tomorrow"})]),
            Reply(text="We open at seven tomorrow."),
            Reply(function_calls=[FunctionCall("end_call", {})]),
        ]
    )


async def simulate() -> int:
    """One call against the simulator: webhook, accept, two caller turns, hang-up."""
    secret = "whsec_" + base64.b64encode(b"simulated webhook secret").decode()
    async with RealtimeSimulator(api_key="sk-simulator", responder=scripted_model()) as sim:
        desk = PhoneDesk("sk-simulator", secret, sim.calls_base_url, sim.base_url)
        server = uvicorn.Server(
            uvicorn.Config(desk.app, host="127.0.0.1", port=0, log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn has no event to wait on
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        call_id = await sim.incoming_call(
            {"From": "<sip:+15550100@example.com>", "To": "<sip:+15550199@example.com>"},
            webhook_url=f"http://127.0.0.1:{port}/openai/webhook",
            webhook_secret=secret,
        )
        log = desk.bot_logs[call_id]
        await log.wait_for(1)
        await sim.call(call_id).caller_says("When do you open tomorrow?")
        await log.wait_for(2)
        await sim.call(call_id).caller_says("Great, thanks. Bye!")
        await asyncio.wait_for(desk.tasks[call_id], 30)
        server.should_exit = True
        await serving
        status = sim.call(call_id).status
    print(f"call status: {status}", flush=True)
    return 0 if status == "ended" else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", action="store_true", help="receive OpenAI's webhooks")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("LOG_LEVEL", "WARNING"))
    if not args.serve:
        return asyncio.run(simulate())
    api_key, secret = os.environ.get("OPENAI_API_KEY"), os.environ.get("OPENAI_WEBHOOK_SECRET")
    if not api_key or not secret:
        print("--serve needs OPENAI_API_KEY and OPENAI_WEBHOOK_SECRET", file=sys.stderr)
        return 2
    uvicorn.run(PhoneDesk(api_key, secret).app, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
