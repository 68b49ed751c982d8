"""Foundational voice bot: talk to the OpenAI Realtime API from your browser.

Uses Pipecat's development runner with the SmallWebRTC transport::

    .venv/bin/pip install -e ".[examples]"
    export OPENAI_API_KEY=sk-...        # or put it in a .env file
    .venv/bin/python examples/foundational_bot.py

then open http://localhost:7860 and click Connect. The bot greets you, answers by voice,
and calls a local ``get_weather`` tool when you ask about the weather.

To try the browser side without a key, run the bundled simulator (it echoes what it
hears with a synthetic voice) and point the bot at it::

    .venv/bin/python -m pipecat_realtime_openai.testing --port 8765 &
    export OPENAI_REALTIME_BASE_URL=ws://127.0.0.1:8765/v1/realtime
    .venv/bin/python examples/foundational_bot.py

Turn-taking is done by OpenAI's server-side semantic VAD: the service reports the user's
turns to the pipeline (interruptions, RTVI speaking events) itself, so no local VAD runs
here. Running one as well would report every turn twice.
"""

from __future__ import annotations

import os
from typing import Any

from dotenv import load_dotenv
from loguru import logger
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import LLMRunFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    AssistantTurnStoppedMessage,
    LLMContextAggregatorPair,
    UserTurnMessageAddedMessage,
)
from pipecat.runner.types import RunnerArguments
from pipecat.runner.utils import create_transport
from pipecat.services.llm_service import FunctionCallParams
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.workers.runner import WorkerRunner

from pipecat_realtime_openai import OpenAIRealtimeLLMService, events

load_dotenv(override=True)

INSTRUCTIONS = """You are a helpful and friendly voice assistant.

Your voice and personality should be warm and engaging. Keep your answers short: one or
two sentences, unless the user asks for more. Use the get_weather tool whenever the user
asks about the weather, and say the temperature in the unit the user is likely to use."""

WEATHER_FUNCTION = FunctionSchema(
    name="get_weather",
    description="Get the current weather in a city.",
    properties={
        "city": {"type": "string", "description": "The city, e.g. Paris"},
        "unit": {
            "type": "string",
            "enum": ["celsius", "fahrenheit"],
            "description": "The temperature unit to report.",
        },
    },
    required=["city"],
)


async def get_weather(params: FunctionCallParams) -> None:
    """Answer ``get_weather`` with canned data (a real bot would call a weather API)."""
    unit = params.arguments.get("unit") or "celsius"
    temperature = 18 if unit == "celsius" else 64
    await params.result_callback(
        {
            "city": params.arguments.get("city"),
            "conditions": "partly cloudy",
            "temperature": temperature,
            "unit": unit,
        }
    )


# The runner picks the transport at run time; each entry builds that transport's params.
# SmallWebRTC delivers 16 kHz or 48 kHz audio: the service resamples to the 24 kHz the
# Realtime API takes, and plays its 24 kHz output at whatever rate the transport uses.
transport_params: dict[str, Any] = {
    "webrtc": lambda: TransportParams(audio_in_enabled=True, audio_out_enabled=True),
}


def connection_settings() -> tuple[str, str | None]:
    """The API key and endpoint to use, from the environment.

    Returns:
        ``(api_key, base_url)``; ``base_url`` is None for OpenAI's own endpoint.

    Raises:
        RuntimeError: When no key is set and no other endpoint is given.
    """
    base_url = os.environ.get("OPENAI_REALTIME_BASE_URL") or None
    api_key = os.environ.get("OPENAI_API_KEY")
    if api_key:
        return api_key, base_url
    if base_url:
        # A local simulator accepts any key.
        return "local-simulator", base_url
    raise RuntimeError("Set OPENAI_API_KEY (in the environment or a .env file).")


def build_service(api_key: str, base_url: str | None = None) -> OpenAIRealtimeLLMService:
    """The realtime service: instructions, voice, transcription and turn detection."""
    endpoint = {"base_url": base_url} if base_url else {}
    service = OpenAIRealtimeLLMService(
        api_key=api_key,
        **endpoint,
        settings=OpenAIRealtimeLLMService.Settings(
            system_instruction=INSTRUCTIONS,
            session_properties=events.SessionProperties(
                audio=events.AudioConfiguration(
                    input=events.AudioInput(
                        # Transcripts of what the user says, for the context and the UI.
                        transcription=events.InputAudioTranscription(),
                        # The server decides when the user has finished a thought,
                        # not just when they pause.
                        turn_detection=events.SemanticTurnDetection(eagerness="auto"),
                        noise_reduction=events.InputAudioNoiseReduction(type="near_field"),
                    ),
                    output=events.AudioOutput(voice="marin"),
                ),
            ),
        ),
    )
    service.register_function("get_weather", get_weather)
    return service


def build_worker(
    transport: BaseTransport,
    runner_args: RunnerArguments,
    api_key: str,
    base_url: str | None = None,
    llm: OpenAIRealtimeLLMService | None = None,
) -> PipelineWorker:
    """Assemble the bot's pipeline and the worker that runs it (nothing connects yet).

    Args:
        transport: The transport the runner created for this session.
        runner_args: The runner's session arguments.
        api_key: OpenAI API key.
        base_url: Realtime endpoint; None for OpenAI's.
        llm: Another realtime service to use (the provider examples pass theirs);
            None builds the OpenAI one.

    Returns:
        The worker, with the transport's connect/disconnect handlers attached.
    """
    if llm is None:
        llm = build_service(api_key, base_url)
    context = LLMContext(
        [{"role": "developer", "content": "Greet the user and offer to check the weather."}],
        ToolsSchema(standard_tools=[WEATHER_FUNCTION]),
    )
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(context)

    pipeline = Pipeline(
        [
            transport.input(),
            user_aggregator,
            llm,
            transport.output(),
            assistant_aggregator,
        ]
    )
    # RTVI (what the browser client speaks) is added by the worker itself.
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        idle_timeout_secs=runner_args.pipeline_idle_timeout_secs,
    )

    @transport.event_handler("on_client_connected")
    async def on_client_connected(transport: BaseTransport, client: Any) -> None:
        logger.info("Client connected: starting the conversation")
        await worker.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport: BaseTransport, client: Any) -> None:
        logger.info("Client disconnected")
        await worker.cancel()

    @user_aggregator.event_handler("on_user_turn_message_added")
    async def on_user_message(aggregator: Any, message: UserTurnMessageAddedMessage) -> None:
        logger.info(f"Transcript: user: {message.content}")

    @assistant_aggregator.event_handler("on_assistant_turn_stopped")
    async def on_assistant_turn(aggregator: Any, message: AssistantTurnStoppedMessage) -> None:
        logger.info(f"Transcript: assistant: {message.content}")

    return worker


async def bot(runner_args: RunnerArguments) -> None:
    """Entry point the development runner calls for each new session."""
    api_key, base_url = connection_settings()
    transport = await create_transport(runner_args, transport_params)
    worker = build_worker(transport, runner_args, api_key, base_url)
    runner = WorkerRunner(handle_sigint=runner_args.handle_sigint)
    await runner.add_workers(worker)
    await runner.run()


if __name__ == "__main__":
    from pipecat.runner.run import main

    main()
