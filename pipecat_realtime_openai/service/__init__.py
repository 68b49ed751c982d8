"""The Pipecat side: frames in -> core inputs; core actions -> socket sends and frames.

* :mod:`~pipecat_realtime_openai.service.llm`: ``OpenAIRealtimeLLMService``, the
  translator (frames, settings and server events in);
* :mod:`~pipecat_realtime_openai.service.executor`: the executor (actions out);
* :mod:`~pipecat_realtime_openai.service.supervisor`: the connection loop;
* :mod:`~pipecat_realtime_openai.service.wire`: sending on the current connection;
* :mod:`~pipecat_realtime_openai.service.context`: ``LLMContext`` in the core's terms;
* :mod:`~pipecat_realtime_openai.service.input`: the input pause timer, JPEG frames.
"""

from pipecat_realtime_openai.service.llm import DEFAULT_BASE_URL, OpenAIRealtimeLLMService

__all__ = ["DEFAULT_BASE_URL", "OpenAIRealtimeLLMService"]
