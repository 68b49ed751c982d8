"""Shared base class for every wire model: tolerant parsing and faithful serialisation."""

from __future__ import annotations

from typing import Any

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
