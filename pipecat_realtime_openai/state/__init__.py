"""Pure state machines the service consults: playback, function calls, response lifecycle."""

from pipecat_realtime_openai.state.function_calls import FunctionCallTracker, PendingCall
from pipecat_realtime_openai.state.playback import (
    AudioItem,
    DeleteItem,
    PlaybackTracker,
    TruncateItem,
    truncation_plan,
)
from pipecat_realtime_openai.state.response import Closing, ResponseLifecycle

__all__ = [
    "AudioItem",
    "Closing",
    "DeleteItem",
    "FunctionCallTracker",
    "PendingCall",
    "PlaybackTracker",
    "ResponseLifecycle",
    "TruncateItem",
    "truncation_plan",
]
