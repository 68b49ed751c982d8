"""The executor carries out every action type the core can return, and refuses to run
with one it cannot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import pytest

from pipecat_realtime_openai.core import actions
from pipecat_realtime_openai.service import OpenAIRealtimeLLMService
from pipecat_realtime_openai.service.executor import MissingActionHandler


def test_every_action_type_has_a_handler():
    # The constructor checks its handlers against every member of the union.
    assert len(get_args(actions.Action)) >= 19
    OpenAIRealtimeLLMService(api_key="sk-test")


def test_a_new_action_type_without_a_handler_stops_the_service(monkeypatch):
    @dataclass(frozen=True)
    class Teleport:
        where: str

    monkeypatch.setattr(actions, "Action", actions.Action | Teleport)
    with pytest.raises(MissingActionHandler, match="Teleport"):
        OpenAIRealtimeLLMService(api_key="sk-test")
