"""Recorded real Realtime WebSocket sessions, loaded from their YAML files.

A recording is the wire traffic of one test session against a real service: the
frames the client sent, the frames the server sent back, and any connection drop
in between (a recording can span several connections). The files use this
layout::

    version: 1
    interactions:
    - kind: message
      direction: received        # server -> client, or "sent" (client -> server)
      data: {type: session.created, ...}
    - kind: close                # the connection ended here; a new one follows
      code: 1011
      reason: test reconnect

PyYAML is a development dependency, so it is imported only when a file is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

SENT: Final = "sent"
RECEIVED: Final = "received"
CLOSE: Final = "close"

Direction = Literal["sent", "received", "close"]

# Folders named after the service they were recorded against; any other folder
# (such as "parity/") says the service in the file name instead.
KNOWN_PROVIDERS: Final = ("openai", "azure", "xai")

_SUPPORTED_VERSION: Final = 1


class Interaction(NamedTuple):
    """One step of a recording.

    Attributes:
        direction: ``"sent"`` (client to server), ``"received"`` (server to client)
            or ``"close"`` (the connection was closed here).
        data: The event as a JSON object for messages; for a close, ``code``,
            ``reason`` and ``ok`` as recorded.
    """

    direction: Direction
    data: dict[str, Any]


@dataclass(frozen=True)
class Recording:
    """A recorded session.

    Attributes:
        name: The file name without its ``.yaml`` suffix.
        provider: ``"openai"``, ``"azure"``, ``"xai"``, or the folder name when
            neither the folder nor the file name says which service it was.
        interactions: Every step in recorded order.
    """

    name: str
    provider: str
    interactions: list[Interaction] = field(default_factory=list)


def received_events(rec: Recording) -> list[dict[str, Any]]:
    """Return the server events of a recording, in order, across all its connections."""
    return [data for direction, data in rec.interactions if direction == RECEIVED]


def sent_events(rec: Recording) -> list[dict[str, Any]]:
    """Return the client events of a recording, in order, across all its connections."""
    return [data for direction, data in rec.interactions if direction == SENT]


def connections(rec: Recording) -> list[list[Interaction]]:
    """Split a recording into its connections.

    Each connection's list ends with its ``close`` step when the recording shows
    one; the last connection usually has none (the session simply ended).

    Args:
        rec: The recording.

    Returns:
        One list of interactions per WebSocket connection, in order.
    """
    result: list[list[Interaction]] = [[]]
    for interaction in rec.interactions:
        result[-1].append(interaction)
        if interaction.direction == CLOSE:
            result.append([])
    if not result[-1] and len(result) > 1:
        result.pop()
    return result


def load_recording(path: str | Path) -> Recording:
    """Load one recorded session from its YAML file.

    Args:
        path: The ``.yaml`` file.

    Returns:
        The recording, named after the file and attributed to its provider.

    Raises:
        ImportError: PyYAML is not installed.
        FileNotFoundError: The file does not exist.
        ValueError: The file is not a recording in the supported format.
    """
    yaml = _import_yaml()
    path = Path(path)
    with path.open(encoding="utf-8") as stream:
        # The C loader is several times faster; fall back where libyaml is absent.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(stream, Loader=loader)
    return Recording(
        name=path.stem,
        provider=provider_of(path),
        interactions=_parse_document(document, path),
    )


def load_recordings(folder: str | Path) -> list[Recording]:
    """Load every ``*.yaml`` recording in a folder, sorted by file name.

    Args:
        folder: A folder of recordings, such as ``fixtures/recorded/openai``.

    Returns:
        The recordings; empty when the folder holds none.
    """
    return [load_recording(path) for path in sorted(Path(folder).glob("*.yaml"))]


def provider_of(path: str | Path) -> str:
    """Name the service a recording file was recorded against.

    The folder tells (``openai/``, ``azure/``, ``xai/``); otherwise a file name
    like ``history_seeding_parity--azure-current.yaml`` does (the word after
    ``--``); otherwise the folder name is returned.

    Args:
        path: The recording file.

    Returns:
        The provider name.
    """
    path = Path(path)
    folder = path.parent.name
    if folder in KNOWN_PROVIDERS:
        return folder
    _, separator, suffix = path.stem.partition("--")
    candidate = suffix.split("-", 1)[0]
    if separator and candidate in KNOWN_PROVIDERS:
        return candidate
    return folder


def _import_yaml() -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise ImportError(
            "Loading recorded sessions needs PyYAML, a development dependency: "
            "install it with `pip install PyYAML` or `pip install pipecat-realtime-openai[dev]`."
        ) from exc
    return yaml


def _parse_document(document: Any, path: Path) -> list[Interaction]:
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a mapping with 'version' and 'interactions'")
    version = document.get("version")
    if version != _SUPPORTED_VERSION:
        raise ValueError(f"{path}: unsupported recording version {version!r}")
    raw_interactions = document.get("interactions")
    if not isinstance(raw_interactions, list):
        raise ValueError(f"{path}: 'interactions' must be a list")
    return [_parse_interaction(raw, path, index) for index, raw in enumerate(raw_interactions)]


def _parse_interaction(raw: Any, path: Path, index: int) -> Interaction:
    where = f"{path}: interaction {index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping")
    kind = raw.get("kind")
    if kind == "close":
        code = raw.get("code")
        if not isinstance(code, int):
            raise ValueError(f"{where}: a close needs an integer 'code'")
        reason = raw.get("reason") or ""
        return Interaction(CLOSE, {"code": code, "reason": str(reason), "ok": raw.get("ok")})
    if kind != "message":
        raise ValueError(f"{where}: unknown kind {kind!r}")
    direction = raw.get("direction")
    if direction not in (SENT, RECEIVED):
        raise ValueError(f"{where}: direction must be 'sent' or 'received', not {direction!r}")
    data = raw.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError(f"{where}: 'data' must be an event object with a string 'type'")
    try:
        # Replaying sends the data as JSON, so reject what JSON cannot carry now
        # (YAML can hold dates and other non-JSON values) rather than mid-replay.
        json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: event is not JSON-serialisable ({exc})") from exc
    return Interaction(direction, data)
