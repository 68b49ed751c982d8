"""``AzureRealtimeLLMService``: Azure OpenAI and Azure Voice Live on this package's core.

A drop-in for Pipecat's ``pipecat.services.azure.realtime.llm.AzureRealtimeLLMService``
(same constructor: ``base_url``, ``api_key`` or ``token_provider``; ``Settings.model``
names the deployment; a URL with a query string is used as given). The endpoint picks
the dialect:

- ``/openai/v1/realtime`` (Azure OpenAI v1): the GA protocol, without
  ``output_modalities`` in ``response.create`` (Azure refuses the response for it);
- ``/openai/realtime?api-version=...&deployment=...`` (the legacy preview endpoint):
  beta event names are read as GA ones and the session goes out in its flat shape;
- ``/voice-live/realtime`` (Azure Voice Live): voices as objects, Azure's VAD types
  and other session options pass through the settings.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pipecat_realtime_openai.core.dialect import AZURE, AZURE_PREVIEW, VOICE_LIVE, Dialect
from pipecat_realtime_openai.service.endpoint import connection_url
from pipecat_realtime_openai.service.llm import OpenAIRealtimeLLMService
from pipecat_realtime_openai.settings import OpenAIRealtimeLLMSettings

TokenProvider = Callable[[], str | Awaitable[str]]
"""Returns a Microsoft Entra ID bearer token (sync or async, e.g. ``azure.identity``'s
``get_bearer_token_provider`` with the ``https://ai.azure.com/.default`` scope)."""

ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
"""Environment variable read for the endpoint when ``base_url`` is not given."""

API_KEY_ENV = "AZURE_OPENAI_API_KEY"
"""Environment variable read for the key when neither ``api_key`` nor a token provider is given."""

V1_REALTIME_PATH = "/openai/v1/realtime"
"""Path of Azure OpenAI's v1 Realtime endpoint."""


def dialect_of(url: str) -> Dialect:
    """Tell which Azure dialect an endpoint URL speaks.

    Args:
        url: The endpoint.

    Returns:
        Voice Live for ``/voice-live/`` paths, the preview dialect for the dated
        ``/openai/realtime?api-version=`` endpoint, Azure OpenAI v1 otherwise.
    """
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if "/voice-live" in path:
        return VOICE_LIVE
    if path.endswith("/openai/realtime") and "api-version=" in parts.query:
        return AZURE_PREVIEW
    return AZURE


def realtime_url(endpoint: str) -> str:
    """Turn a resource endpoint (``https://<name>.openai.azure.com``) into the Realtime URL.

    A URL that already has a path is kept (only ``https`` becomes ``wss``).

    Args:
        endpoint: The value of ``AZURE_OPENAI_ENDPOINT`` or a WebSocket URL.

    Returns:
        The ``wss://`` Realtime URL.
    """
    parts = urlsplit(endpoint)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/") or V1_REALTIME_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, parts.fragment))


@dataclass
class AzureRealtimeLLMSettings(OpenAIRealtimeLLMSettings):
    """Settings for :class:`AzureRealtimeLLMService` (``model`` names the deployment).

    On Azure the input transcription model names a deployment too
    (``audio.input.transcription.model``).
    """


class AzureRealtimeLLMService(OpenAIRealtimeLLMService):
    """Azure OpenAI Realtime (and Azure Voice Live) for Pipecat pipelines.

    Authentication is the ``api-key`` header, or an Entra ID bearer token from
    ``token_provider``, which is called again for every connection, so a reconnect
    late in a long call gets a fresh token.

    Example::

        llm = AzureRealtimeLLMService(
            api_key=os.environ["AZURE_OPENAI_API_KEY"],
            base_url="wss://my-resource.openai.azure.com/openai/v1/realtime",
            settings=AzureRealtimeLLMService.Settings(model="my-realtime-deployment"),
        )
    """

    Settings = AzureRealtimeLLMSettings
    _settings: AzureRealtimeLLMSettings

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        token_provider: TokenProvider | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the service.

        Args:
            base_url: The Realtime endpoint. Without a query string the deployment is
                added as ``?model=<Settings.model>``; with one it is used as given.
                Read from ``AZURE_OPENAI_ENDPOINT`` (a resource URL is enough) when
                not given.
            api_key: The resource key (``api-key`` header; never logged). Read from
                ``AZURE_OPENAI_API_KEY`` when neither it nor ``token_provider`` is given.
            token_provider: Returns an Entra ID bearer token, sync or async; used
                instead of the key, called for each connection.
            **kwargs: Passed to :class:`OpenAIRealtimeLLMService`. ``dialect`` may
                override the one read from the URL.

        Raises:
            ValueError: No endpoint, or neither a key nor a token provider.
        """
        if base_url is None:
            endpoint = os.environ.get(ENDPOINT_ENV)
            if not endpoint:
                raise ValueError(
                    f"An Azure endpoint is required: pass base_url or set {ENDPOINT_ENV}."
                )
            base_url = realtime_url(endpoint)
        if api_key is None and token_provider is None:
            api_key = os.environ.get(API_KEY_ENV)
        if not api_key and token_provider is None:
            raise ValueError(
                f"Either api_key or token_provider is required (or set {API_KEY_ENV})."
            )
        kwargs.setdefault("dialect", dialect_of(base_url))
        super().__init__(base_url=base_url, api_key=api_key or "", **kwargs)
        self._token_provider = token_provider

    @property
    def url(self) -> str:
        """The URL of the next connection; one with a query string is used as given."""
        as_given = bool(urlsplit(self._base_url).query)
        url = connection_url(self._base_url, self._url_query(), as_given=as_given)
        if as_given and self._extra_query:
            url = connection_url(url, self._extra_query)
        return url

    async def _auth_headers(self) -> dict[str, str]:
        """Authenticate with a fresh Entra ID token, or with the key."""
        if self._token_provider is not None:
            token = self._token_provider()
            if inspect.isawaitable(token):
                token = await token
            return {"Authorization": f"Bearer {token}"}
        return {"api-key": self.api_key}
