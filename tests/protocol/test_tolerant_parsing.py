"""Servers that bend the schema never cost the service a whole event.

Every known server event is varied the ways a compatible server could bend it (a field
removed, nulled, or given another JSON type, at any depth) and parsed. The rules:

- parsing never raises;
- the event stays the event it was (same class) unless a field it needs was broken,
  and only then is it malformed, with a reason that names that field;
- what was set aside is named by ``bent_fields`` (an ancestor of, or the, varied
  field), and ``to_dict()`` gives back exactly what came.

Seeds are one full instance of every known event built from its model, plus every
frame of every recorded session of every provider (OpenAI, Azure, xAI) when
``../shared`` is beside the checkout.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Iterator
from typing import Any, Literal, Union, get_args, get_origin

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from pipecat_realtime_openai.protocol import (
    FAST_DELTA_TYPES,
    SERVER_EVENT_TYPES,
    MalformedEvent,
    bent_fields,
    parse_server_event,
)
from pipecat_realtime_openai.protocol.base import WIRE_CONTEXT
from pipecat_realtime_openai.protocol.beta import BETA_EVENT_NAMES
from pipecat_realtime_openai.protocol.parse import needed_fields
from tests.conftest import RECORDED_DIR

JsonPath = tuple[str | int, ...]

# -- seeds -------------------------------------------------------------------------------


def _example(annotation: Any, depth: int = 0) -> Any:
    """A JSON value the annotation accepts, filling optional model fields too."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _example(get_args(annotation)[0], depth)
    if origin is Literal:
        return get_args(annotation)[0]
    if origin in (Union, types.UnionType):
        for choice in get_args(annotation):
            if choice is not type(None):
                return _example(choice, depth)
        return None
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return [_example(args[0], depth + 1)] if args and depth < 4 else []
    if origin is dict or annotation is dict:
        return {"key": "value"}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if depth > 4:
            return {}
        return {
            field.alias or name: _example(field.annotation, depth + 1)
            for name, field in annotation.model_fields.items()
        }
    if annotation is bool:
        return True
    if annotation is int:
        return 3
    if annotation is float:
        return 1.5
    if annotation is str:
        return "text"
    return "value"  # Any / object


def _built_seed(event_type: str, cls: type[BaseModel]) -> dict[str, Any]:
    data = _example(cls)
    data["type"] = event_type
    data["event_id"] = "event_1"
    for name, value in list(data.items()):
        if value is None:
            del data[name]
    try:
        cls.model_validate(data, context=WIRE_CONTEXT)
    except ValidationError:
        # Union members that the first alternative does not fit: keep only what the
        # event requires, which every model documents precisely.
        required = {n for n, f in cls.model_fields.items() if f.is_required()}
        data = {k: v for k, v in data.items() if k in required or k in ("type", "event_id")}
        cls.model_validate(data, context=WIRE_CONTEXT)
    return data


BUILT_SEEDS = {
    event_type: _built_seed(event_type, cls) for event_type, cls in SERVER_EVENT_TYPES.items()
}


def _recorded_frames() -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    for path in sorted(RECORDED_DIR.glob("*/*.yaml")):
        document = yaml.safe_load(path.read_text())
        for entry in document.get("interactions", []):
            data = entry.get("data")
            if (
                entry.get("kind") == "message"
                and entry.get("direction") == "received"
                and isinstance(data, dict)
                and (data.get("type") in SERVER_EVENT_TYPES or data.get("type") in BETA_EVENT_NAMES)
            ):
                frames.append(data)
    return frames


def _shape(data: Any) -> Any:
    if isinstance(data, dict):
        return tuple(sorted((k, _shape(v)) for k, v in data.items()))
    if isinstance(data, list):
        return tuple(_shape(v) for v in data[:2])
    return type(data).__name__


def _distinct(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[Any] = set()
    out = []
    for frame in frames:
        key = (frame["type"], _shape(frame))
        if key not in seen:
            seen.add(key)
            out.append(frame)
    return out


RECORDED_SEEDS = _distinct(_recorded_frames()) if RECORDED_DIR.is_dir() else []


# -- variations --------------------------------------------------------------------------


def _paths(data: Any, prefix: JsonPath = ()) -> Iterator[JsonPath]:
    if isinstance(data, dict):
        for key, value in data.items():
            if not prefix and key == "type":
                continue  # the name is what makes the event known at all
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data[:3]):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _retyped(value: Any) -> list[Any]:
    # Never a value pydantic reads losslessly in lax mode ("3" for 3, "yes" for True):
    # those are taken as read, not bent.
    if isinstance(value, dict):
        return [["bent"], "bent"]
    if isinstance(value, list):
        return [{"bent": "value"}, "bent"]
    if isinstance(value, str):
        return [{"bent": "value"}, 7]
    return [{"bent": "value"}, "bent"]


VARIATIONS = ("remove", "null", "retype-0", "retype-1")


def _vary(data: dict[str, Any], path: JsonPath, how: str) -> dict[str, Any]:
    varied = copy.deepcopy(data)
    parent: Any = varied
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if how == "remove":
        if isinstance(parent, list):
            parent.pop(last)  # type: ignore[arg-type]
        else:
            del parent[last]
    elif how == "null":
        parent[last] = None
    else:
        parent[last] = _retyped(parent[last])[int(how[-1])]
    return varied


def _dotted(path: JsonPath) -> str:
    return ".".join(str(key) for key in path)


def _is_within(inner: JsonPath, outer: str) -> bool:
    """Whether the dotted ``outer`` path is ``inner`` or one of its ancestors."""
    parts = outer.split(".")
    return [str(key) for key in inner[: len(parts)]] == parts


def _touches_needed(cls: type[BaseModel], path: JsonPath) -> bool:
    needed = needed_fields(cls)
    # A needed field broken, or removed from within (its parent nulled or retyped).
    return any(_is_within(path, name) or _is_within(tuple(name.split(".")), _dotted(path))
               for name in needed)  # fmt: skip


def _expected_class(event_type: str) -> type:
    ga_type = event_type if event_type in SERVER_EVENT_TYPES else BETA_EVENT_NAMES[event_type]
    return FAST_DELTA_TYPES.get(ga_type) or SERVER_EVENT_TYPES[ga_type]


def _model_class(event_type: str) -> type[BaseModel]:
    ga_type = event_type if event_type in SERVER_EVENT_TYPES else BETA_EVENT_NAMES[event_type]
    return SERVER_EVENT_TYPES[ga_type]


def check_variation(
    seed: dict[str, Any], varied_paths: list[JsonPath], varied: dict[str, Any]
) -> None:
    """The rules of the module docstring, for one varied event."""
    event_type = seed["type"]
    cls = _model_class(event_type)
    event = parse_server_event(copy.deepcopy(varied))
    if isinstance(event, MalformedEvent):
        broken = [path for path in varied_paths if _touches_needed(cls, path)]
        assert broken, (
            f"{event_type} lost to a field it does not need: {varied_paths} -> {event.reason}"
        )
        assert event_type in event.reason
        assert any(str(path[0]) in event.reason for path in broken), event.reason
        return
    assert type(event) is _expected_class(event_type), (event_type, varied_paths, event)
    assert event.to_dict() == varied, (event_type, varied_paths)
    for bent in bent_fields(event):
        if bent == "type":
            continue
        assert any(_is_within(path, bent) for path in varied_paths), (bent, varied_paths)


def _cases(seeds: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], JsonPath, str]]:
    for seed in seeds:
        for path in _paths(seed):
            for how in VARIATIONS:
                yield seed, path, how


# -- the tests ---------------------------------------------------------------------------


def test_every_known_event_has_a_seed_that_parses_as_it_is() -> None:
    assert set(BUILT_SEEDS) == set(SERVER_EVENT_TYPES)
    for event_type, seed in BUILT_SEEDS.items():
        event = parse_server_event(copy.deepcopy(seed))
        assert type(event) is _expected_class(event_type), (event_type, event)
        assert bent_fields(event) == ()
        assert event.to_dict() == seed


@pytest.mark.parametrize("event_type", sorted(BUILT_SEEDS))
def test_every_single_variation_of_a_built_event(event_type: str) -> None:
    seed = BUILT_SEEDS[event_type]
    cases = list(_cases([seed]))
    assert cases or set(seed) <= {"type", "event_id"}
    for _, path, how in cases:
        check_variation(seed, [path], _vary(seed, path, how))


def test_every_single_variation_of_every_recorded_event_shape() -> None:
    if not RECORDED_SEEDS:
        pytest.skip(
            f"recorded sessions not found at {RECORDED_DIR} (../shared is beside CI clones)"
        )
    providers = {path.parent.name for path in RECORDED_DIR.glob("*/*.yaml")}
    assert {"openai", "azure", "xai"} <= providers
    checked = 0
    for seed, path, how in _cases(RECORDED_SEEDS):
        check_variation(seed, [path], _vary(seed, path, how))
        checked += 1
    assert checked > 1000


def test_removing_a_needed_field_makes_the_event_malformed_and_names_it() -> None:
    for event_type, seed in BUILT_SEEDS.items():
        for name in needed_fields(SERVER_EVENT_TYPES[event_type]):
            path: JsonPath = tuple(name.split("."))
            event = parse_server_event(_vary(seed, path, "remove"))
            assert isinstance(event, MalformedEvent), (event_type, name)
            assert path[-1] in event.reason, (event_type, name, event.reason)


@st.composite
def _multi_variation(draw: st.DrawFn) -> tuple[dict[str, Any], list[JsonPath], dict[str, Any]]:
    seeds = list(BUILT_SEEDS.values()) + RECORDED_SEEDS
    seed = draw(st.sampled_from(seeds))
    varied = copy.deepcopy(seed)
    varied_paths: list[JsonPath] = []
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(varied))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        varied = _vary(varied, path, draw(st.sampled_from(VARIATIONS)))
        varied_paths.append(path)
    return seed, varied_paths, varied


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_multi_variation())
def test_several_fields_bent_at_once(
    case: tuple[dict[str, Any], list[JsonPath], dict[str, Any]],
) -> None:
    seed, varied_paths, varied = case
    check_variation(seed, varied_paths, varied)


def test_the_issue_examples_keep_their_event() -> None:
    voice_live_done = {
        "type": "response.done",
        "event_id": "event_1",
        "response": {
            "id": "resp_1",
            "object": "realtime.response",
            "status": "completed",
            "voice": {"name": "en-US-AvaNeural", "type": "azure-standard"},
            "output": [],
        },
    }
    event = parse_server_event(copy.deepcopy(voice_live_done))
    assert type(event) is SERVER_EVENT_TYPES["response.done"]
    assert event.response.id == "resp_1"
    assert event.to_dict() == voice_live_done
    xai_part_done = {
        "type": "response.content_part.done",
        "event_id": "event_2",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
    }
    event = parse_server_event(copy.deepcopy(xai_part_done))
    assert type(event) is SERVER_EVENT_TYPES["response.content_part.done"]
    assert event.to_dict() == xai_part_done


MCP_EVENT_TYPES = {
    "mcp_list_tools.in_progress",
    "mcp_list_tools.completed",
    "mcp_list_tools.failed",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    "response.mcp_call.failed",
}

MCP_ITEMS = [
    {
        "id": "mcpl_1",
        "type": "mcp_list_tools",
        "server_label": "dice",
        "tools": [{"name": "roll", "input_schema": {"type": "object"}, "description": "Roll"}],
    },
    {
        "id": "mcp_1",
        "type": "mcp_call",
        "server_label": "dice",
        "name": "roll",
        "arguments": '{"sides": 6}',
        "approval_request_id": "mcpr_1",
        "output": "4",
    },
    {
        "id": "mcp_2",
        "type": "mcp_call",
        "server_label": "dice",
        "name": "roll",
        "arguments": "{}",
        "error": {"type": "protocol_error", "code": -32602, "message": "Unknown tool"},
    },
    {
        "id": "mcpr_1",
        "type": "mcp_approval_request",
        "server_label": "dice",
        "name": "roll",
        "arguments": "{}",
    },
]


def test_the_mcp_events_are_known_and_seeded() -> None:
    assert MCP_EVENT_TYPES <= set(BUILT_SEEDS)


@pytest.mark.parametrize("item", MCP_ITEMS, ids=[i["id"] for i in MCP_ITEMS])
def test_mcp_items_in_the_official_shape_parse_whole_and_bend_like_any_item(
    item: dict[str, Any],
) -> None:
    from pipecat_realtime_openai.protocol.official import official_server_event_error

    for event_type in ("conversation.item.done", "response.output_item.done"):
        seed: dict[str, Any] = {"type": event_type, "event_id": "event_1", "item": item}
        if event_type.startswith("response."):
            seed.update(response_id="resp_1", output_index=0)
        else:
            seed["previous_item_id"] = None
        assert official_server_event_error(seed) is None
        event = parse_server_event(copy.deepcopy(seed))
        assert type(event) is SERVER_EVENT_TYPES[event_type]
        assert bent_fields(event) == () and event.to_dict() == seed
        for _, path, how in _cases([seed]):
            check_variation(seed, [path], _vary(seed, path, how))
