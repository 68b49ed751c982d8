"""The provider services as users build them: URLs, authentication, dialects and settings."""

from __future__ import annotations

import pytest
from pipecat.services.xai.realtime import events as xai_events

from pipecat_realtime_openai import (
    AzureRealtimeLLMService,
    GrokRealtimeLLMService,
    OpenAIRealtimeLLMService,
)
from pipecat_realtime_openai.service.azure import dialect_of, realtime_url

V1 = "wss://res.openai.azure.com/openai/v1/realtime"
PREVIEW = "wss://res.openai.azure.com/openai/realtime?api-version=2024-10-01-preview&deployment=dep"
VOICE_LIVE = (
    "wss://res.services.ai.azure.com/voice-live/realtime?api-version=2025-10-01&model=gpt-realtime"
)


@pytest.mark.parametrize(
    ("url", "dialect"),
    [(V1, "azure"), (PREVIEW, "azure-preview"), (VOICE_LIVE, "voice-live")],
)
def test_the_azure_endpoint_picks_its_dialect(url, dialect):
    assert dialect_of(url).name == dialect
    assert AzureRealtimeLLMService(api_key="k", base_url=url).core.dialect.name == dialect


def test_azure_names_the_deployment_and_keeps_a_url_with_a_query_as_given():
    llm = AzureRealtimeLLMService(
        api_key="k", base_url=V1, settings=AzureRealtimeLLMService.Settings(model="my-dep")
    )
    assert llm.url == V1 + "?model=my-dep"
    assert AzureRealtimeLLMService(api_key="k", base_url=PREVIEW).url == PREVIEW


async def test_azure_authenticates_with_the_api_key_header():
    llm = AzureRealtimeLLMService(api_key="secret", base_url=V1)
    assert await llm._handshake_headers() == {"api-key": "secret"}


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_token_provider_is_asked_again_for_every_connection(kind):
    tokens = iter(["token-1", "token-2"])

    def sync_provider() -> str:
        return next(tokens)

    async def async_provider() -> str:
        return next(tokens)

    provider = sync_provider if kind == "sync" else async_provider
    llm = AzureRealtimeLLMService(token_provider=provider, base_url=V1)
    assert await llm._handshake_headers() == {"Authorization": "Bearer token-1"}
    assert await llm._handshake_headers() == {"Authorization": "Bearer token-2"}


def test_azure_reads_the_usual_environment_variables(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "env-key")
    llm = AzureRealtimeLLMService(settings=AzureRealtimeLLMService.Settings(model="dep"))
    assert llm.url == V1 + "?model=dep"
    assert llm.api_key == "env-key"


def test_azure_without_endpoint_or_credentials_says_what_is_missing(monkeypatch):
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="AZURE_OPENAI_ENDPOINT"):
        AzureRealtimeLLMService(api_key="k")
    with pytest.raises(ValueError, match="api_key or token_provider"):
        AzureRealtimeLLMService(base_url=V1)


def test_a_resource_endpoint_becomes_the_v1_realtime_url():
    assert realtime_url("https://res.openai.azure.com/") == V1
    assert realtime_url(VOICE_LIVE) == VOICE_LIVE


def test_grok_defaults_match_pipecat_and_read_its_session_model(monkeypatch):
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="XAI_API_KEY"):
        GrokRealtimeLLMService()
    monkeypatch.setenv("XAI_API_KEY", "xai-key")
    llm = GrokRealtimeLLMService()
    assert llm.url == "wss://api.x.ai/v1/realtime?model=grok-voice-latest"
    assert llm.core.dialect.name == "xai"
    assert llm._app.initial_session()["audio"]["output"]["voice"] == "eve"
    manual = GrokRealtimeLLMService(
        settings=GrokRealtimeLLMService.Settings(
            session_properties=xai_events.SessionProperties(voice="rex", turn_detection=None)
        )
    )
    session = manual._app.initial_session()
    assert session["audio"]["output"]["voice"] == "rex"
    assert session["audio"]["input"]["turn_detection"] is None
    assert manual.core.manual_turns


def test_grok_reads_a_dict_in_xai_shape():
    llm = GrokRealtimeLLMService(
        api_key="k",
        settings=GrokRealtimeLLMService.Settings(
            session_properties={"voice": "sal", "resumption": {"enabled": True}}
        ),
    )
    session = llm._app.initial_session()
    assert session["audio"]["output"]["voice"] == "sal"
    assert session["resumption"] == {"enabled": True}


async def test_extra_headers_and_query_reach_the_handshake():
    llm = OpenAIRealtimeLLMService(
        api_key="k",
        base_url="wss://gateway.example/v1/realtime",
        extra_headers={"X-Team": "voice"},
        extra_query={"region": "eu"},
    )
    assert llm.url == "wss://gateway.example/v1/realtime?model=gpt-realtime-2.1&region=eu"
    assert await llm._handshake_headers() == {"Authorization": "Bearer k", "X-Team": "voice"}
    assert OpenAIRealtimeLLMService(api_key="k", dialect="xai").core.dialect.name == "xai"


async def test_grok_server_side_tools_reach_xai_as_it_defines_them(harnesses):
    from pipecat_realtime_openai.testing import RealtimeSimulator
    from tests.service.conftest import Harness

    server_tools = [
        {"type": "web_search"},
        {"type": "x_search", "allowed_x_handles": ["xai"]},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
    ]
    async with RealtimeSimulator(api_key="xai-key", dialect="xai") as sim:
        settings = GrokRealtimeLLMService.Settings(session_properties={"tools": server_tools})
        service = GrokRealtimeLLMService(
            api_key="xai-key", base_url=sim.base_url, settings=settings
        )
        harness: Harness = harnesses(service)
        await harness.start()
        conn = await sim.wait_for_connection()
        update = await conn.wait_for_client_event("session.update")
        updated = await conn.wait_for_server_event("session.updated")
        await harness.stop()
    assert update["session"]["tools"] == server_tools
    assert updated["session"]["tools"] == server_tools
    errors = [e for e in conn.server_events if e["type"] == "error"]
    assert not errors, errors
