"""OpenAI Realtime API (GA) for Pipecat pipelines.

Migrating from Pipecat's built-in service changes one import::

    from pipecat_realtime_openai import OpenAIRealtimeLLMService, events
"""

from pipecat_realtime_openai import events
from pipecat_realtime_openai.core.reconnect import ReconnectInfo, ReconnectOptions
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings

__version__ = "0.1.0"

__all__ = [
    "OpenAIRealtimeLLMService",
    "OpenAIRealtimeLLMSettings",
    "ReconnectInfo",
    "ReconnectOptions",
    "__version__",
    "events",
]
