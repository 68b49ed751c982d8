"""The foundational voice bot on xAI's Grok voice agent, from your browser.

Same pipeline as ``foundational_bot.py``; only the service differs::

    .venv/bin/pip install -e ".[examples]"
    export XAI_API_KEY=xai-...
    .venv/bin/python examples/grok_bot.py

then open http://localhost:7860 and click Connect. The audio goes as PCM at the
transport's own sample rates (xAI takes 8 to 48 kHz), so nothing is resampled, and the
conversation is resumed by xAI after a dropped connection.

Without a key, run the bundled simulator in its xAI dialect and point the bot at it::

    .venv/bin/python -m pipecat_realtime_openai.testing --port 8765 --dialect xai &
    export XAI_REALTIME_BASE_URL=ws://127.0.0.1:8765/v1/realtime
    export XAI_API_KEY=any
    .venv/bin/python examples/grok_bot.py
"""

from __future__ import annotations

import os

from dotenv import load_dotenv
from foundational_bot import INSTRUCTIONS, build_worker, get_weather, transport_params
from pipecat.runner.types import RunnerArguments
from pipecat.runner.utils import create_transport
from pipecat.workers.runner import WorkerRunner

from pipecat_realtime_openai import GrokRealtimeLLMService
from pipecat_realtime_openai.service.grok import GROK_BASE_URL

load_dotenv(override=True)

__all__ = ["build_service", "transport_params"]


def build_service() -> GrokRealtimeLLMService:
    """The Grok service, from the environment (``XAI_API_KEY``, ``XAI_REALTIME_BASE_URL``).

    Raises:
        ValueError: When ``XAI_API_KEY`` is not set.
    """
    service = GrokRealtimeLLMService(
        base_url=os.environ.get("XAI_REALTIME_BASE_URL") or GROK_BASE_URL,
        settings=GrokRealtimeLLMService.Settings(
            system_instruction=INSTRUCTIONS,
            session_properties={
                "voice": "ara",
                "turn_detection": {"type": "server_vad"},
                "audio": {"input": {"transcription": {"model": "grok-transcribe"}}},
                # xAI keeps the conversation for a reconnect to ask for again.
                "resumption": {"enabled": True},
            },
        ),
    )
    service.register_function("get_weather", get_weather)
    return service


async def bot(runner_args: RunnerArguments) -> None:
    """Entry point the development runner calls for each new session."""
    llm = build_service()
    transport = await create_transport(runner_args, transport_params)
    worker = build_worker(transport, runner_args, api_key="", llm=llm)
    runner = WorkerRunner(handle_sigint=runner_args.handle_sigint)
    await runner.add_workers(worker)
    await runner.run()


if __name__ == "__main__":
    from pipecat.runner.run import main

    main()
