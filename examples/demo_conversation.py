"""What the demo conversation is: the user's turns, the weather tool, and the simulated model.

`DemoResponder` plays the model's part when the demo runs against the bundled simulator.
It decides from what is in the conversation (not from a fixed order), so it answers the
same way whatever the pacing: a weather question gets a ``get_weather`` call, a tool
result gets a spoken summary, and so on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.services.llm_service import FunctionCallParams

from pipecat_realtime_openai.testing import FunctionCall, Reply, ResponseContext

SYSTEM_INSTRUCTION = (
    "You are a friendly voice assistant in a short demo. Answer in one or two short "
    "sentences. Always use the get_weather tool to answer questions about the weather."
)


@dataclass(frozen=True)
class UserTurn:
    """One thing the user says.

    Attributes:
        text: The words. A typed turn sends them as a context message; a spoken turn
            sends audio (and, with the simulator, these words as its transcript).
        spoken: Whether the turn is audio rather than text.
    """

    text: str
    spoken: bool = False


TURNS: tuple[UserTurn, ...] = (
    UserTurn("Hi! Who am I talking to?"),
    UserTurn("What's the weather like in Paris right now?", spoken=True),
    UserTurn("Thanks! Do I need an umbrella today?"),
)

WEATHER_FUNCTION = FunctionSchema(
    name="get_weather",
    description="Get the current weather in a city.",
    properties={
        "city": {"type": "string", "description": "The city, e.g. Paris"},
    },
    required=["city"],
)

# Canned data so the demo needs no weather service; unknown cities get a default.
_WEATHER: dict[str, dict[str, Any]] = {
    "paris": {"conditions": "light rain", "temperature_c": 14},
    "london": {"conditions": "overcast", "temperature_c": 11},
}
_DEFAULT_WEATHER = {"conditions": "sunny", "temperature_c": 21}


def weather_report(city: str) -> dict[str, Any]:
    """Return the (canned) current weather of `city`."""
    known = _WEATHER.get(city.strip().lower(), _DEFAULT_WEATHER)
    return {"city": city.strip().title() or "Unknown", **known}


class WeatherTool:
    """The ``get_weather`` handler registered on the service; remembers its calls."""

    def __init__(self, say: Callable[[str], None] = print) -> None:
        """Create it with no calls yet.

        Args:
            say: Where each call is reported.
        """
        self.calls: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self._say = say

    async def __call__(self, params: FunctionCallParams) -> None:
        """Answer a ``get_weather`` call locally."""
        city = str(params.arguments.get("city") or "")
        result = weather_report(city)
        self.calls.append((dict(params.arguments), result))
        self._say(f"tool:      get_weather({json.dumps(params.arguments)}) -> {json.dumps(result)}")
        await params.result_callback(result)


class DemoResponder:
    """The simulator's stand-in for the model in this demo's conversation."""

    def reply(self, context: ResponseContext) -> Reply:
        """Decide the next reply from the conversation so far."""
        last = context.items[-1] if context.items else {}
        if last.get("type") == "function_call_output":
            return Reply(text=self._describe(last.get("output") or "{}"))
        said = (context.last_user_text or "").lower()
        if "weather" in said:
            city = "Paris" if "paris" in said else "London"
            return Reply(function_calls=[FunctionCall("get_weather", {"city": city})])
        if "umbrella" in said:
            rainy = any("rain" in out for out in context.function_outputs.values())
            if rainy:
                return Reply(text="Yes, take one: light rain is expected all afternoon.")
            return Reply(text="No, it looks dry today.")
        if said.startswith(("hi", "hello", "hey")):
            return Reply(
                text="Hi! I'm a voice assistant running on the OpenAI Realtime API. "
                "Ask me about the weather."
            )
        return Reply(text="Sorry, I can only help with the weather.")

    @staticmethod
    def _describe(output: str) -> str:
        try:
            report = json.loads(output)
        except ValueError:
            return "Sorry, the weather service gave me nothing useful."
        return (
            f"In {report.get('city', 'that city')} it's {report.get('conditions', 'unknown')} "
            f"and {report.get('temperature_c', '?')} degrees."
        )
