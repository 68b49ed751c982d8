"""Validate event dicts against the official schema shipped in the ``openai`` package.

This is a test and simulator aid: the ``openai`` package is an optional (dev)
dependency, imported only when a validator is first used.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Union, get_args

from pydantic import Field, TypeAdapter, ValidationError


class OfficialSchemaUnavailableError(ImportError):
    """Raised when the ``openai`` package (which carries the official types) is missing."""


def _event_union_adapter(union_alias: Any) -> TypeAdapter[Any]:
    # The official alias is Annotated[Union[...], PropertyInfo(...)]; re-annotating the
    # bare union with a pydantic discriminator makes errors name only the matching type.
    members = get_args(get_args(union_alias)[0])
    union: Any = Annotated[Union[members], Field(discriminator="type")]  # noqa: UP007
    return TypeAdapter(union)


@cache
def _client_adapter() -> TypeAdapter[Any]:
    try:
        from openai.types.realtime import RealtimeClientEvent
    except ImportError as exc:
        raise OfficialSchemaUnavailableError(
            "validating against the official Realtime schema needs the 'openai' package "
            "(pip install openai)"
        ) from exc
    return _event_union_adapter(RealtimeClientEvent)


@cache
def _server_adapter() -> TypeAdapter[Any]:
    try:
        from openai.types.realtime import RealtimeServerEvent
    except ImportError as exc:
        raise OfficialSchemaUnavailableError(
            "validating against the official Realtime schema needs the 'openai' package "
            "(pip install openai)"
        ) from exc
    return _event_union_adapter(RealtimeServerEvent)


def _first_error(adapter: TypeAdapter[Any], data: dict[str, Any]) -> str | None:
    try:
        adapter.validate_python(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        loc = list(first["loc"])
        if loc and loc[0] == data.get("type"):
            loc = loc[1:]  # the discriminator tag repeats the event type
        location = ".".join(str(part) for part in loc) or "<event>"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{data.get('type', '<no type>')}: {location}: {first['msg']}{more}"
    return None


def official_client_event_error(data: dict[str, Any]) -> str | None:
    """Check one client event dict against the official ``openai`` GA types.

    Args:
        data: The event as sent on the wire (a decoded JSON object).

    Returns:
        ``None`` when the event is valid, otherwise a one-line description of the
        first problem.

    Raises:
        OfficialSchemaUnavailableError: If the ``openai`` package is not installed.
    """
    references, data = _split_item_references(data)
    for index, reference in references:
        problem = _first_error(_reference_adapter(), reference)
        if problem is not None:
            return f"response.create: response.input.{index}: {problem.split(': ', 1)[1]}"
    return _first_error(_client_adapter(), data)


@cache
def _reference_adapter() -> TypeAdapter[Any]:
    try:
        from openai.types.realtime.response_item_reference import ResponseItemReference
    except ImportError as exc:
        raise OfficialSchemaUnavailableError(
            "validating against the official Realtime schema needs the 'openai' package "
            "(pip install openai)"
        ) from exc

    return TypeAdapter(ResponseItemReference)


def _split_item_references(
    data: dict[str, Any],
) -> tuple[list[tuple[int, dict[str, Any]]], dict[str, Any]]:
    # The package's pydantic event types leave out what its own request types
    # (``ResponseCreateEventWithReferencesParam``) and the server take: item references
    # in a response's input. They are checked on their own; the rest as usual.
    response = data.get("response") if data.get("type") == "response.create" else None
    if not isinstance(response, dict):
        return [], data
    entries = response.get("input")
    if not isinstance(entries, list):
        return [], data
    references = [
        (i, e)
        for i, e in enumerate(entries)
        if isinstance(e, dict) and e.get("type") == "item_reference"
    ]
    if not references:
        return [], data
    kept = [e for e in entries if not (isinstance(e, dict) and e.get("type") == "item_reference")]
    return references, {**data, "response": {**response, "input": kept}}


def official_server_event_error(data: dict[str, Any]) -> str | None:
    """Check one server event dict against the official ``openai`` GA types.

    Args:
        data: The event as received on the wire (a decoded JSON object).

    Returns:
        ``None`` when the event is valid, otherwise a one-line description of the
        first problem.

    Raises:
        OfficialSchemaUnavailableError: If the ``openai`` package is not installed.
    """
    return _first_error(_server_adapter(), data)


def clear_schema_cache() -> None:
    """Forget the loaded official types (they are loaded again on the next check)."""
    _client_adapter.cache_clear()
    _server_adapter.cache_clear()
    _reference_adapter.cache_clear()
