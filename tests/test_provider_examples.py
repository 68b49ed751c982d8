"""The provider examples build their services from the environment, as their docstrings say."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # The examples import foundational_bot as a sibling, as they do when run as scripts.
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "foundational_bot", raising=False)
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("endpoint", "url", "dialect"),
    [
        (
            "ws://127.0.0.1:8765/openai/v1/realtime",
            "ws://127.0.0.1:8765/openai/v1/realtime?model=my-dep",
            "azure",
        ),
        (
            "https://res.openai.azure.com/openai/realtime?api-version=2024-10-01-preview&deployment=d",
            "wss://res.openai.azure.com/openai/realtime?api-version=2024-10-01-preview&deployment=d",
            "azure-preview",
        ),
    ],
)
def test_the_azure_bot_builds_its_service_from_the_environment(monkeypatch, endpoint, url, dialect):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", endpoint)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "any")
    monkeypatch.setenv("AZURE_REALTIME_DEPLOYMENT", "my-dep")
    monkeypatch.setenv("AZURE_TRANSCRIPTION_DEPLOYMENT", "my-transcriber")
    monkeypatch.delenv("AZURE_USE_ENTRA_ID", raising=False)
    bot = _load("azure_bot", monkeypatch)
    llm = bot.build_service()
    assert llm.url == url
    assert llm.core.dialect.name == dialect
    assert llm.has_function("get_weather")
    assert llm.settings.session_properties.audio.input.transcription.model == "my-transcriber"


def test_the_grok_bot_builds_its_service_from_the_environment(monkeypatch):
    monkeypatch.setenv("XAI_API_KEY", "any")
    monkeypatch.setenv("XAI_REALTIME_BASE_URL", "ws://127.0.0.1:8765/v1/realtime")
    bot = _load("grok_bot", monkeypatch)
    llm = bot.build_service()
    assert llm.url == "ws://127.0.0.1:8765/v1/realtime?model=grok-voice-latest"
    assert llm.core.dialect.name == "xai"
    session = llm._app.initial_session()
    assert session["audio"]["output"]["voice"] == "ara"
    assert session["resumption"] == {"enabled": True}
    monkeypatch.delenv("XAI_API_KEY")
    with pytest.raises(ValueError, match="XAI_API_KEY"):
        bot.build_service()
