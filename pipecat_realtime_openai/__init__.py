"""OpenAI Realtime API (GA) for Pipecat pipelines."""

__version__ = "0.1.0"
