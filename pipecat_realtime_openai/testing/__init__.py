"""Test helpers: a local OpenAI Realtime (GA) simulator for bot tests.

`RealtimeSimulator` is a real WebSocket server on 127.0.0.1 that behaves like
``wss://api.openai.com/v1/realtime`` closely enough for a bot tested against it to work
against the real service: session defaults and updates, input audio with simulated
server VAD, transcription, the conversation item store, responses with real audio,
function calls, cancellation and barge-in, and fault injection. It also runs standalone:
``python -m pipecat_realtime_openai.testing --port 8765``.

`RecordingReplayServer` plays the server side of a recorded real session (YAML, as in
the project's recorded fixtures) to whatever client connects, for replay tests.
"""

from pipecat_realtime_openai.testing.connection import SimulatedConnection
from pipecat_realtime_openai.testing.faults import Faults, InjectedError
from pipecat_realtime_openai.testing.mcp import FakeMcpTool, McpRegistry
from pipecat_realtime_openai.testing.recordings import (
    Interaction,
    Recording,
    connections,
    load_recording,
    load_recordings,
    received_events,
    sent_events,
)
from pipecat_realtime_openai.testing.replay import RecordingReplayServer
from pipecat_realtime_openai.testing.responder import (
    EchoResponder,
    FunctionCall,
    McpCall,
    Reply,
    Responder,
    ResponseContext,
    ScriptedResponder,
)
from pipecat_realtime_openai.testing.server import RealtimeSimulator
from pipecat_realtime_openai.testing.session_state import RealtimeSessionState
from pipecat_realtime_openai.testing.sideband import CallRequest, SimulatedCall
from pipecat_realtime_openai.testing.transcription import TranscriptionFailure, TranscriptQueue

__all__ = [
    "CallRequest",
    "EchoResponder",
    "FakeMcpTool",
    "Faults",
    "FunctionCall",
    "InjectedError",
    "Interaction",
    "McpCall",
    "McpRegistry",
    "RealtimeSessionState",
    "RealtimeSimulator",
    "Recording",
    "RecordingReplayServer",
    "Reply",
    "Responder",
    "ResponseContext",
    "ScriptedResponder",
    "SimulatedCall",
    "SimulatedConnection",
    "TranscriptQueue",
    "TranscriptionFailure",
    "connections",
    "load_recording",
    "load_recordings",
    "received_events",
    "sent_events",
]
