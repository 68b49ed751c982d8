"""OpenAI Realtime API (GA) for Pipecat pipelines.

Migrating from Pipecat's built-in service changes one import::

    from pipecat_realtime_openai import OpenAIRealtimeLLMService, events

The Pipecat side is imported when one of its names is first used, so the sans-I/O core
(``pipecat_realtime_openai.core``) can be imported, and tested, without Pipecat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipecat_realtime_openai import events
from pipecat_realtime_openai.core.mcp import McpApprovalRequest
from pipecat_realtime_openai.core.out_of_band import (
    OutOfBandFunctionCall,
    OutOfBandResponse,
    OutOfBandResponseError,
)
from pipecat_realtime_openai.core.reconnect import ReconnectInfo, ReconnectOptions
from pipecat_realtime_openai.core.turn_timeline import (
    ToolCallTiming,
    TurnInterruption,
    TurnTimeline,
)
from pipecat_realtime_openai.events import McpTool

if TYPE_CHECKING:
    from pipecat_realtime_openai.service import (
        AzureRealtimeLLMService,
        AzureRealtimeLLMSettings,
        GrokRealtimeLLMService,
        GrokRealtimeLLMSettings,
        IncomingCall,
        OpenAIRealtimeLLMService,
        RealtimeCallError,
        RealtimeCalls,
        WebhookVerificationError,
        unwrap_incoming_call,
        verify_webhook,
    )
    from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings

__version__ = "0.1.0"

_SERVICE_NAMES = (
    "AzureRealtimeLLMService",
    "AzureRealtimeLLMSettings",
    "GrokRealtimeLLMService",
    "GrokRealtimeLLMSettings",
    "IncomingCall",
    "OpenAIRealtimeLLMService",
    "RealtimeCallError",
    "RealtimeCalls",
    "WebhookVerificationError",
    "unwrap_incoming_call",
    "verify_webhook",
)

__all__ = [
    "AzureRealtimeLLMService",
    "AzureRealtimeLLMSettings",
    "GrokRealtimeLLMService",
    "GrokRealtimeLLMSettings",
    "IncomingCall",
    "McpApprovalRequest",
    "McpTool",
    "OpenAIRealtimeLLMService",
    "OpenAIRealtimeLLMSettings",
    "OutOfBandFunctionCall",
    "OutOfBandResponse",
    "OutOfBandResponseError",
    "RealtimeCallError",
    "RealtimeCalls",
    "ReconnectInfo",
    "ReconnectOptions",
    "ToolCallTiming",
    "TurnInterruption",
    "TurnTimeline",
    "WebhookVerificationError",
    "__version__",
    "events",
    "unwrap_incoming_call",
    "verify_webhook",
]


def __getattr__(name: str) -> Any:
    if name in _SERVICE_NAMES:
        from pipecat_realtime_openai import service

        return getattr(service, name)
    if name == "OpenAIRealtimeLLMSettings":
        from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings

        return OpenAIRealtimeLLMSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
