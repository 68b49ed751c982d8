"""Shared lifecycle of the package's local WebSocket test servers."""

from __future__ import annotations

from abc import abstractmethod
from types import TracebackType
from typing import Any, Self


class LocalServerLifecycle:
    """Stop and ``async with`` support for a server that keeps its ``serve()`` in ``_server``.

    Subclasses implement :meth:`start`, which sets ``self._server``.
    """

    _server: Any = None

    @abstractmethod
    async def start(self) -> None:
        """Start listening."""

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
