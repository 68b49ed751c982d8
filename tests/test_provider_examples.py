"""The provider examples build their services from the environment, as their docstrings say."""

from __future__ import annotations

import importlib.util
import os
import subprocess
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


def test_the_sip_sideband_bot_takes_a_call_against_the_simulator():
    """The sideband example, as a script without a key: webhook, accept, tools, hang-up."""
    root = EXAMPLES.parent
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "LOG_LEVEL")}
    # The package of this checkout, not whichever one the environment installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "sip_sideband_bot.py")],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        "webhook: call from <sip:+15550100@example.com>",
        "bot: Ada's bakery, how can I help?",
        "caller: When do you open tomorrow?",
        "bot: We open at seven tomorrow.",
        "caller: Great, thanks. Bye!",
        "call ended",
        "call status: ended",
    ]


def test_the_sip_sideband_bot_refuses_an_unsigned_webhook(monkeypatch):
    from fastapi.testclient import TestClient

    bot = _load("sip_sideband_bot", monkeypatch)
    desk = bot.PhoneDesk("sk-test", "whsec_" + "c2VjcmV0", "http://127.0.0.1:9/v1")
    answer = TestClient(desk.app).post(
        "/openai/webhook",
        content=b'{"type": "realtime.call.incoming", "data": {"call_id": "rtc_1"}}',
        headers={"webhook-id": "wh_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"},
    )
    assert answer.status_code == 400
    assert desk.tasks == {}
    llm = desk.build_service("rtc_abc")
    assert llm.url == "wss://api.openai.com/v1/realtime?call_id=rtc_abc"
    assert llm.has_function("opening_hours") and llm.has_function("end_call")
