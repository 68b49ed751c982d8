"""Shared base class for every wire model: tolerant parsing and faithful serialisation."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

WIRE_CONTEXT: dict[str, Any] = {"wire": True}
"""Validation context for data that came off (or is going onto) the wire.

Pass it as ``model_validate(data, context=WIRE_CONTEXT)``: a few fields read a JSON
``null`` differently from a ``None`` a caller passes to a constructor (see
``AudioInput.turn_detection``).
"""


PathKey: TypeAlias = str | int
"""One step of a path into a decoded event: a dict key or a list index."""

_BENT_KEY = "bent"


@dataclass(frozen=True, slots=True)
class Bent:
    """What a parse had to set aside to understand an event.

    Attributes:
        paths: Dotted paths of the fields set aside (``"response.voice"``,
            ``"response.output.0.content"``), in the order they were; ``"type"`` first
            when a beta event name was normalised.
        removed: Each set-aside field's path and its value as received.
        received_type: The event name as received, when it was normalised.
    """

    paths: tuple[str, ...]
    removed: tuple[tuple[tuple[PathKey, ...], Any], ...] = ()
    received_type: str | None = None

    def put_back(self, data: dict[str, Any]) -> None:
        """Put the set-aside values back into a serialised event, at their paths.

        Args:
            data: The event's wire dict, changed in place.
        """
        for path, value in self.removed:
            parent: Any = data
            try:
                for key in path[:-1]:
                    parent = parent[key]
                # A copy: the caller may change what to_dict returns.
                parent[path[-1]] = copy.deepcopy(value)
            except (KeyError, IndexError, TypeError):
                continue  # the model dropped the container; nothing to put it in


def bent_record(model: BaseModel) -> Bent | None:
    """Return what a parse set aside to build ``model``, or None when nothing was.

    Args:
        model: A parsed model.

    Returns:
        The :class:`Bent` record attached by the parser, if any.
    """
    private = model.__pydantic_private__
    if not private:
        return None
    record = private.get(_BENT_KEY)
    return record if isinstance(record, Bent) else None


def attach_bent(model: BaseModel, record: Bent) -> None:
    """Attach a :class:`Bent` record to a parsed model.

    The record lives in the slot pydantic keeps for private attributes. It is not
    declared as a ``PrivateAttr``: that would make pydantic initialise it for every
    model it validates, a cost every event would pay for the few that are bent.

    Args:
        model: The model built from the salvaged data.
        record: What was set aside.
    """
    private = dict(model.__pydantic_private__ or {})
    private[_BENT_KEY] = record
    object.__setattr__(model, "__pydantic_private__", private)


class WireModel(BaseModel):
    """Base for all Realtime protocol models.

    Unknown fields are kept (``extra="allow"``) so that whatever a real server sends
    survives a parse/serialise round trip. Serialisation drops fields that are ``None``
    only because nobody set them; a field explicitly set to ``None`` is sent as JSON
    ``null``, which the protocol uses to switch features off (e.g. turn detection).
    """

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    @model_serializer(mode="wrap")
    def _drop_unset_nones(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        explicitly_set = self.model_fields_set
        return {
            key: value for key, value in data.items() if value is not None or key in explicitly_set
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the wire representation as a JSON-compatible dict.

        Returns:
            The model as the Realtime API expects it: GA field names, unset optional
            fields omitted, explicit ``None`` kept as ``null``, unknown fields preserved.
        """
        return self.model_dump(mode="json")
