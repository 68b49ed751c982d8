"""The Pipecat side: frames in -> core inputs; core actions -> socket sends and frames.

* :mod:`~pipecat_realtime_openai.service.llm`: ``OpenAIRealtimeLLMService``, the public
  face (constructor, public methods, lifecycle);
* :mod:`~pipecat_realtime_openai.service.translator`: frames and settings in -> core
  inputs (with the input audio hot path);
* :mod:`~pipecat_realtime_openai.service.executor`: core actions out, and received
  events in (with the output audio hot path);
* :mod:`~pipecat_realtime_openai.service.application`: which ``LLMContext`` is the
  application's, and what the core is told of it;
* :mod:`~pipecat_realtime_openai.service.supervisor`: the connection loop;
* :mod:`~pipecat_realtime_openai.service.wire`: sending on the current connection;
* :mod:`~pipecat_realtime_openai.service.context`: ``LLMContext`` in the core's terms;
* :mod:`~pipecat_realtime_openai.service.input`: the input pause timer, JPEG frames;
* :mod:`~pipecat_realtime_openai.service.timeline_metrics`: a turn's timeline as metrics;
* :mod:`~pipecat_realtime_openai.service.endpoint`: the URL of a connection;
* :mod:`~pipecat_realtime_openai.service.azure`: ``AzureRealtimeLLMService``;
* :mod:`~pipecat_realtime_openai.service.grok`: ``GrokRealtimeLLMService``;
* :mod:`~pipecat_realtime_openai.service.calls`: ``RealtimeCalls``, REST control of a
  call the server carries (the webhook verifier, from ``protocol.webhooks``, with it).
"""

from pipecat_realtime_openai.protocol.webhooks import (
    IncomingCall,
    WebhookVerificationError,
    unwrap_incoming_call,
    verify_webhook,
)
from pipecat_realtime_openai.service.azure import AzureRealtimeLLMService, AzureRealtimeLLMSettings
from pipecat_realtime_openai.service.calls import RealtimeCallError, RealtimeCalls
from pipecat_realtime_openai.service.grok import GrokRealtimeLLMService, GrokRealtimeLLMSettings
from pipecat_realtime_openai.service.llm import DEFAULT_BASE_URL, OpenAIRealtimeLLMService
from pipecat_realtime_openai.service.timeline_metrics import (
    ToolCallMetrics,
    TurnTimelineMetricsData,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "AzureRealtimeLLMService",
    "AzureRealtimeLLMSettings",
    "GrokRealtimeLLMService",
    "GrokRealtimeLLMSettings",
    "IncomingCall",
    "OpenAIRealtimeLLMService",
    "RealtimeCallError",
    "RealtimeCalls",
    "ToolCallMetrics",
    "TurnTimelineMetricsData",
    "WebhookVerificationError",
    "unwrap_incoming_call",
    "verify_webhook",
]
