"""Runtime-updatable settings of :class:`~pipecat_realtime_openai.OpenAIRealtimeLLMService`.

Same semantics as Pipecat's built-in ``OpenAIRealtimeLLMSettings``: ``model`` and
``system_instruction`` are kept in step with ``session_properties.model`` and
``session_properties.instructions`` in both directions, a delta's
``session_properties`` replaces the stored one wholesale, and ``from_mapping``
routes session-property keys into ``session_properties``. On top of that, Pipecat's
own ``events.SessionProperties`` objects (and plain dicts) are accepted anywhere a
session object is, and converted to this package's protocol model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any, Self, cast

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import AdapterType, ToolsSchema
from pipecat.services.settings import LLMSettings
from pipecat.utils.types import NOT_GIVEN, NotGiven, is_given
from pydantic import BaseModel

from pipecat_realtime_openai.protocol.mcp import mcp_tool_dict
from pipecat_realtime_openai.protocol.session import DEFAULT_REALTIME_MODEL, SessionProperties

DEFAULT_MODEL = DEFAULT_REALTIME_MODEL
"""Model used when none is configured (the same default as Pipecat's built-in service)."""


def normalize_tools(tools: Any) -> Any:
    """Wrap a plain list of Pipecat standard tools in a ``ToolsSchema``.

    A list made only of ``FunctionSchema`` objects and direct functions becomes a
    ``ToolsSchema`` (as Pipecat's own session model does). A list that mixes them
    with provider-native tools (an :class:`~pipecat_realtime_openai.protocol.mcp.McpTool`
    or a tool dict such as ``{"type": "mcp", ...}``) becomes a ``ToolsSchema`` whose
    ``custom_tools`` hold the native ones, so both reach the session. A list of native
    tools only is kept as is (``McpTool`` models as their wire dicts).

    Args:
        tools: A ``ToolsSchema``, a list of standard or provider-native tools, or None.

    Returns:
        The tools in the form the service stores them.
    """
    if isinstance(tools, list) and tools:
        standard = [t for t in tools if isinstance(t, FunctionSchema) or callable(t)]
        native = [
            mcp_tool_dict(t) for t in tools if not (isinstance(t, FunctionSchema) or callable(t))
        ]
        if not native:
            return ToolsSchema(standard_tools=standard)
        if standard:
            return ToolsSchema(standard_tools=standard, custom_tools={AdapterType.OPENAI: native})
        return native
    return tools


def context_tools(tools: Any) -> Any:
    """Tools as Pipecat's ``LLMContext`` takes them (``LLMSetToolsFrame``, context tools).

    ``LLMContext`` refuses plain lists of provider-native tools, so a list holding any
    (an ``McpTool`` or a tool dict) becomes a ``ToolsSchema`` carrying them as its
    OpenAI custom tools, beside the standard ones.

    Args:
        tools: What the application gave.

    Returns:
        The tools, as a ``ToolsSchema`` when the list held native tools.
    """
    if isinstance(tools, list) and not all(_is_standard(t) for t in tools):
        standard = [t for t in tools if _is_standard(t)]
        native = [mcp_tool_dict(t) for t in tools if not _is_standard(t)]
        return ToolsSchema(standard_tools=standard, custom_tools={AdapterType.OPENAI: native})
    return tools


def _is_standard(tool: Any) -> bool:
    return isinstance(tool, FunctionSchema) or callable(tool)


def to_session_properties(value: Any) -> SessionProperties:
    """Convert any supported session description to this package's model.

    Args:
        value: A :class:`SessionProperties`, Pipecat's built-in
            ``pipecat.services.openai.realtime.events.SessionProperties`` (or any
            pydantic model with the same wire fields), or a mapping of wire fields.

    Returns:
        A :class:`SessionProperties`; the input itself when it already is one.

    Raises:
        TypeError: When the value is none of the supported shapes.
    """
    if isinstance(value, SessionProperties):
        value.tools = normalize_tools(value.tools)
        return value
    if isinstance(value, BaseModel):
        # Tools may be a ToolsSchema, which pydantic cannot dump; carry it across as is.
        tools = getattr(value, "tools", None)
        data = value.model_dump(exclude_none=True, exclude={"tools"})
        converted = SessionProperties.model_validate(data)
        if tools is not None:
            converted.tools = normalize_tools(tools)
        return converted
    if isinstance(value, Mapping):
        data = dict(value)
        tools = data.pop("tools", None)
        converted = SessionProperties.model_validate(data)
        if tools is not None:
            converted.tools = normalize_tools(tools)
        return converted
    raise TypeError(
        "session_properties must be a pipecat_realtime_openai.events.SessionProperties, "
        f"Pipecat's events.SessionProperties or a dict, not {type(value).__name__}"
    )


@dataclass
class OpenAIRealtimeLLMSettings(LLMSettings):
    """Settings for :class:`~pipecat_realtime_openai.OpenAIRealtimeLLMService`.

    Parameters:
        session_properties: The Realtime session configuration (modalities, audio,
            tools, ...). Its ``model`` and ``instructions`` mirror the top-level
            ``model`` and ``system_instruction``. Pipecat's ``events.SessionProperties``
            and plain dicts are accepted and converted.
    """

    session_properties: SessionProperties | NotGiven = field(default_factory=lambda: NOT_GIVEN)

    def __post_init__(self) -> None:
        if is_given(self.session_properties) and self.session_properties is not None:
            self.session_properties = self.to_session(self.session_properties)

    @classmethod
    def to_session(cls, value: Any) -> SessionProperties:
        """Convert a session description given to these settings (see ``to_session_properties``).

        Provider settings override it to read their provider's own session shape.

        Args:
            value: The session description.

        Returns:
            This package's session model.
        """
        return to_session_properties(value)

    @classmethod
    def defaults(cls) -> OpenAIRealtimeLLMSettings:
        """Return a complete store-mode settings object with the service defaults.

        Returns:
            Settings with every inherited field the Realtime API does not support set
            to None and an empty session configuration.
        """
        return cls(
            model=DEFAULT_MODEL,
            system_instruction=None,
            temperature=None,
            max_tokens=None,
            top_p=None,
            top_k=None,
            frequency_penalty=None,
            presence_penalty=None,
            seed=None,
            filter_incomplete_user_turns=False,
            user_turn_completion_config=None,
            session_properties=SessionProperties(),
        )

    def sync_top_level_to_session(self) -> None:
        """Copy ``model`` and ``system_instruction`` into ``session_properties``."""
        if not is_given(self.session_properties):
            return
        sp = self.session_properties
        if is_given(self.model) and self.model is not None:
            sp.model = self.model
        if is_given(self.system_instruction):
            sp.instructions = self.system_instruction

    def apply_update(self, delta: LLMSettings) -> dict[str, Any]:
        """Merge a delta, keeping ``model`` / ``system_instruction`` in step with the session.

        A given ``session_properties`` replaces the stored one wholesale. When it
        carries a model or instructions that the delta does not also set at the top
        level, those are pulled up; top-level values win over conflicting session
        values.

        Args:
            delta: A delta-mode settings object: this class, or Pipecat's plain
                ``LLMSettings`` (Pipecat Flows sends one with ``system_instruction``).

        Returns:
            Changed field names mapped to their previous values.
        """
        session = getattr(delta, "session_properties", NOT_GIVEN)
        if is_given(session) and session is not None and isinstance(delta, type(self)):
            delta.session_properties = self.to_session(session)
        # The base merges field by field and skips fields a plain LLMSettings lacks.
        changed = super().apply_update(cast(OpenAIRealtimeLLMSettings, delta))

        if "session_properties" in changed and is_given(self.session_properties):
            sp = self.session_properties
            if "model" not in changed and sp.model is not None and sp.model != self.model:
                changed["model"] = self.model
                self.model = sp.model
            if (
                "system_instruction" not in changed
                and sp.instructions is not None
                and sp.instructions != self.system_instruction
            ):
                changed["system_instruction"] = self.system_instruction
                self.system_instruction = sp.instructions

        self.sync_top_level_to_session()
        return changed

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> Self:
        """Build a delta from a plain dict, routing session keys into ``session_properties``.

        Keys naming fields of this dataclass go to them (``model`` always does);
        keys naming session fields are gathered into one ``session_properties``;
        anything else lands in ``extra``.

        Args:
            settings: Setting names (or aliases) mapped to values.

        Returns:
            A delta-mode settings object.
        """
        own_fields = {f.name for f in dataclass_fields(cls)} - {"extra"}
        session_fields = set(SessionProperties.model_fields) - {"model"}
        top: dict[str, Any] = {}
        session: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in settings.items():
            name = cls._aliases.get(key, key)
            if name in own_fields:
                top[name] = value
            elif name in session_fields:
                session[name] = value
            else:
                extra[key] = value
        if session:
            top["session_properties"] = cls.to_session(session)
        delta = cls(**top)
        delta.extra = extra
        return delta


def initial_settings(
    model: str | None,
    session_properties: Any | None,
    settings: OpenAIRealtimeLLMSettings | None,
    settings_class: type[OpenAIRealtimeLLMSettings] = OpenAIRealtimeLLMSettings,
) -> tuple[OpenAIRealtimeLLMSettings, list[str]]:
    """Build the service's complete settings from its constructor arguments.

    Args:
        model: The deprecated ``model`` argument.
        session_properties: The deprecated ``session_properties`` argument (any
            shape :func:`to_session_properties` accepts); its model and instructions
            are pulled up to the top level.
        settings: The ``settings`` delta, applied last.
        settings_class: The service's settings class (its defaults and session reader).

    Returns:
        The settings, and the names of the deprecated arguments that were given.
    """
    store = settings_class.defaults()
    deprecated = []
    if model is not None:
        deprecated.append("model")
        store.model = model
    if session_properties is not None:
        deprecated.append("session_properties")
        sp = settings_class.to_session(session_properties)
        store.session_properties = sp
        if model is None and sp.model is not None:
            store.model = sp.model
        if sp.instructions is not None:
            store.system_instruction = sp.instructions
    store.sync_top_level_to_session()
    if settings is not None:
        store.apply_update(settings)
    return store, deprecated
