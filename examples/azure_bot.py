"""The foundational voice bot on Azure OpenAI (or Azure Voice Live), from your browser.

Same pipeline as ``foundational_bot.py``; only the service differs::

    .venv/bin/pip install -e ".[examples]"
    export AZURE_OPENAI_ENDPOINT=https://my-resource.openai.azure.com
    export AZURE_OPENAI_API_KEY=...               # or sign in for an Entra ID token
    export AZURE_REALTIME_DEPLOYMENT=gpt-realtime-2.1  # your realtime deployment
    export AZURE_TRANSCRIPTION_DEPLOYMENT=gpt-realtime-whisper  # optional
    .venv/bin/python examples/azure_bot.py

then open http://localhost:7860 and click Connect. ``AZURE_OPENAI_ENDPOINT`` may also be
a full Realtime URL: the legacy preview endpoint
(``.../openai/realtime?api-version=...&deployment=...``) or an Azure Voice Live one
(``.../voice-live/realtime?api-version=...&model=...``); the service speaks the dialect
the URL names. With ``AZURE_USE_ENTRA_ID=1`` (and the ``azure-identity`` package) it
authenticates with a token that is fetched again on every reconnect.

Without Azure, run the bundled simulator in its Azure dialect and point the bot at it::

    .venv/bin/python -m pipecat_realtime_openai.testing --port 8765 --dialect azure &
    export AZURE_OPENAI_ENDPOINT=ws://127.0.0.1:8765/openai/v1/realtime
    export AZURE_OPENAI_API_KEY=any
    .venv/bin/python examples/azure_bot.py
"""

from __future__ import annotations

import os
from typing import Any

from dotenv import load_dotenv
from foundational_bot import INSTRUCTIONS, build_worker, get_weather, transport_params
from pipecat.runner.types import RunnerArguments
from pipecat.runner.utils import create_transport
from pipecat.workers.runner import WorkerRunner

from pipecat_realtime_openai import AzureRealtimeLLMService, events

load_dotenv(override=True)

__all__ = ["build_service", "transport_params"]


def _entra_token_provider() -> Any:
    from azure.identity import DefaultAzureCredential, get_bearer_token_provider

    return get_bearer_token_provider(DefaultAzureCredential(), "https://ai.azure.com/.default")


def build_service() -> AzureRealtimeLLMService:
    """The Azure service, from the environment (see the module docstring).

    Raises:
        ValueError: When the endpoint or the credentials are missing.
    """
    transcription = os.environ.get("AZURE_TRANSCRIPTION_DEPLOYMENT")
    token_provider = _entra_token_provider() if os.environ.get("AZURE_USE_ENTRA_ID") else None
    service = AzureRealtimeLLMService(
        token_provider=token_provider,
        settings=AzureRealtimeLLMService.Settings(
            model=os.environ.get("AZURE_REALTIME_DEPLOYMENT", "gpt-realtime-2.1"),
            system_instruction=INSTRUCTIONS,
            session_properties=events.SessionProperties(
                audio=events.AudioConfiguration(
                    input=events.AudioInput(
                        # On Azure the transcription model names a deployment.
                        transcription=events.InputAudioTranscription(model=transcription)
                        if transcription
                        else None,
                        turn_detection=events.SemanticTurnDetection(eagerness="auto"),
                    ),
                    output=events.AudioOutput(voice="marin"),
                ),
            ),
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
