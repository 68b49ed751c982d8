"""Recorded sessions: loading them, and replaying their server side over a real socket."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pipecat_realtime_openai.testing.recordings import (
    CLOSE,
    RECEIVED,
    SENT,
    Interaction,
    Recording,
    connections,
    load_recording,
    load_recordings,
    provider_of,
    received_events,
    sent_events,
)
from pipecat_realtime_openai.testing.replay import (
    ConnectionReplay,
    RecordingReplayServer,
    Release,
    ReplayStep,
    build_steps,
)
from tests.conftest import RECORDED_DIR, recorded_dir

AUTH = {"Authorization": "Bearer sk-test"}
FAST_IDLE = 0.05  # seconds; keeps the idle-release path quick in tests


def _recording_params(*folders: str) -> list[Any]:
    paths = [p for f in folders for p in sorted((RECORDED_DIR / f).glob("*.yaml"))]
    if not paths:
        return [pytest.param(None, id="recordings-absent")]
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in paths]


ALL_RECORDINGS = _recording_params("openai", "azure", "xai", "parity")
GA_RECORDINGS = _recording_params("openai", "azure")


def _load(path: Path | None) -> Recording:
    if path is None:
        recorded_dir("openai")  # skips with the reason
    assert path is not None
    return load_recording(path)


def _recorded(provider: str, name: str) -> Recording:
    return load_recording(recorded_dir(provider) / f"{name}.yaml")


def _sent(kind: str, **fields: Any) -> Interaction:
    return Interaction(SENT, {"type": kind, **fields})


def _received(kind: str, **fields: Any) -> Interaction:
    return Interaction(RECEIVED, {"type": kind, **fields})


def _frame_types(release: Release) -> list[str]:
    return [json.loads(frame)["type"] for frame in release.frames]


# --- loading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_RECORDINGS)
def test_every_recording_loads_with_messages_in_file_order(path: Path | None) -> None:
    import yaml

    rec = _load(path)
    assert path is not None
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]
    assert rec.name == path.stem
    assert rec.provider in ("openai", "azure", "xai")
    assert [(i.direction, i.data) for i in rec.interactions] == [
        (r["direction"], r["data"]) if r["kind"] == "message" else (CLOSE, _close_data(r))
        for r in raw
    ]
    assert rec.interactions[0].direction == RECEIVED
    assert rec.interactions[0].data["type"] == "session.created"


def _close_data(raw: dict[str, Any]) -> dict[str, Any]:
    return {"code": raw["code"], "reason": raw["reason"], "ok": raw["ok"]}


def test_received_and_sent_events_split_by_direction_in_order() -> None:
    rec = _recorded("openai", "tool_call_round")
    assert [e["type"] for e in sent_events(rec)] == [
        "session.update",
        "conversation.item.create",
        "response.create",
        "conversation.item.create",
        "response.create",
    ]
    received = received_events(rec)
    assert received[0]["type"] == "session.created"
    assert received[-1]["type"] == "response.done"
    assert len(received) + len(sent_events(rec)) == len(rec.interactions)


def test_resumption_recording_splits_into_two_connections_at_the_close() -> None:
    rec = _recorded("xai", "session_resumption_after_drop")
    first, second = connections(rec)
    assert first[-1] == Interaction(CLOSE, {"code": 1011, "reason": "test reconnect", "ok": False})
    assert second[0].data["type"] == "session.created"
    assert CLOSE not in [i.direction for i in second]


def test_connections_of_a_recording_without_close_is_one_connection() -> None:
    rec = Recording("r", "openai", [_received("session.created"), _sent("session.update")])
    assert connections(rec) == [rec.interactions]


def test_load_recordings_loads_a_folder_sorted_by_name() -> None:
    recs = load_recordings(recorded_dir("openai"))
    assert [r.name for r in recs] == sorted(p.stem for p in recorded_dir("openai").glob("*.yaml"))
    assert {r.provider for r in recs} == {"openai"}


@pytest.mark.parametrize(
    ("path", "provider"),
    [
        ("recorded/openai/tool_call_round.yaml", "openai"),
        ("recorded/azure/x.yaml", "azure"),
        ("recorded/parity/history_seeding_parity--azure-current.yaml", "azure"),
        ("recorded/parity/text_tool_round_parity--xai-current.yaml", "xai"),
        ("recorded/parity/text_tool_round_parity--openai-previous.yaml", "openai"),
        ("recorded/parity/no_provider_here.yaml", "parity"),
        ("elsewhere/thing--other-x.yaml", "elsewhere"),
    ],
)
def test_provider_comes_from_folder_or_file_name(path: str, provider: str) -> None:
    assert provider_of(path) == provider


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("- just a list\n", "expected a mapping"),
        ("version: 2\ninteractions: []\n", "unsupported recording version"),
        ("version: 1\ninteractions: {}\n", "must be a list"),
        ("version: 1\ninteractions:\n- kind: ping\n", "interaction 0: unknown kind"),
        (
            "version: 1\ninteractions:\n- {kind: message, direction: up, data: {type: a}}\n",
            "direction must be",
        ),
        (
            "version: 1\ninteractions:\n- {kind: message, direction: sent, data: {x: 1}}\n",
            "string 'type'",
        ),
        (
            "version: 1\ninteractions:\n- {kind: message, direction: sent,"
            " data: {type: a, at: 2024-01-02}}\n",
            "not JSON-serialisable",
        ),
        ("version: 1\ninteractions:\n- {kind: close, reason: x}\n", "integer 'code'"),
    ],
)
def test_malformed_recordings_are_refused_with_the_reason(
    tmp_path: Path, body: str, complaint: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(complaint)):
        load_recording(path)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_recording(tmp_path / "absent.yaml")


def test_missing_pyyaml_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("version: 1\ninteractions: []\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match="pip install PyYAML"):
        load_recording(path)


# --- steps and matching (no sockets) ------------------------------------------------------------

TEXT_TURN = [
    _received("session.created"),
    _sent("session.update"),
    _received("session.updated"),
    _sent("conversation.item.create"),
    _sent("conversation.item.create"),
    _sent("response.create"),
    _received("response.created"),
    _received("response.done"),
    _sent("conversation.item.create"),
    _received("conversation.item.added"),
]


def test_build_steps_groups_client_runs_before_server_runs() -> None:
    steps = build_steps([*TEXT_TURN, _sent("response.create")])
    assert [s.expects for s in steps] == [
        (),
        ("session.update",),
        ("conversation.item.create", "conversation.item.create", "response.create"),
        ("conversation.item.create",),
    ]
    assert [len(s.frames) for s in steps] == [1, 1, 2, 1]
    assert json.loads(steps[2].frames[1]) == {"type": "response.done"}
    assert all(s.close is None for s in steps)


def test_build_steps_ends_a_connection_at_its_close() -> None:
    close = Interaction(CLOSE, {"code": 1011, "reason": "drop", "ok": False})
    steps = build_steps([_received("session.created"), close, _received("ignored")])
    assert steps == [ReplayStep((), ('{"type": "session.created"}',), (1011, "drop"))]


def test_exact_client_sequence_releases_each_run_after_its_last_event() -> None:
    replay = ConnectionReplay(build_steps(TEXT_TURN))
    assert _frame_types(replay.start()) == ["session.created"]
    assert replay.on_client_event("session.update").frames
    assert replay.on_client_event("conversation.item.create") == Release()
    assert replay.on_client_event("conversation.item.create") == Release()
    assert replay.waiting_for == ("response.create",)
    assert _frame_types(replay.on_client_event("response.create")) == [
        "response.created",
        "response.done",
    ]
    assert not replay.done
    assert _frame_types(replay.on_client_event("conversation.item.create")) == [
        "conversation.item.added"
    ]
    assert replay.done
    assert replay.describe() == "done"


def test_nothing_is_released_before_the_recorded_trigger() -> None:
    replay = ConnectionReplay(build_steps(TEXT_TURN))
    replay.start()
    assert replay.on_client_event("input_audio_buffer.append") == Release()
    assert replay.on_client_event(None) == Release()
    assert replay.waiting_for == ("session.update",)
    assert replay.quiet_limit(0.1, None) is None


def test_a_later_event_of_the_gate_skips_the_missing_ones() -> None:
    replay = ConnectionReplay(build_steps(TEXT_TURN))
    replay.start()
    replay.on_client_event("session.update")
    assert _frame_types(replay.on_client_event("response.create")) == [
        "response.created",
        "response.done",
    ]


def test_unexpected_events_are_tolerated_without_releasing() -> None:
    replay = ConnectionReplay(build_steps(TEXT_TURN))
    replay.start()
    replay.on_client_event("session.update")
    assert replay.on_client_event("session.update") == Release()
    replay.on_client_event("conversation.item.create")
    # Already matched in this gate, so it is an extra, not the next gate's item.create.
    assert replay.on_client_event("conversation.item.create") == Release()
    assert replay.on_client_event("conversation.item.create") == Release()
    assert replay.waiting_for == ("response.create",)


def test_an_event_of_the_next_gate_opens_the_skipped_gate_first() -> None:
    replay = ConnectionReplay(build_steps(TEXT_TURN))
    replay.start()
    release = replay.on_client_event("conversation.item.create")
    assert _frame_types(release) == ["session.updated"]
    assert replay.waiting_for == ("conversation.item.create", "response.create")


def test_quiet_opens_a_gate_only_once_entered_unless_a_stall_limit_is_set() -> None:
    replay = ConnectionReplay(build_steps(TEXT_TURN))
    replay.start()
    replay.on_client_event("session.update")
    assert replay.quiet_limit(0.1, None) is None
    assert replay.quiet_limit(0.1, 2.0) == 2.0
    replay.on_client_event("conversation.item.create")
    assert replay.quiet_limit(0.1, None) == 0.1
    assert _frame_types(replay.on_quiet()) == ["response.created", "response.done"]
    assert _frame_types(replay.on_quiet()) == ["conversation.item.added"]
    assert replay.done
    assert replay.on_quiet() == Release()
    assert replay.quiet_limit(0.1, 2.0) is None


def test_a_recorded_close_is_released_with_its_frames_and_ends_the_script() -> None:
    close = Interaction(CLOSE, {"code": 1011, "reason": "drop", "ok": False})
    replay = ConnectionReplay(
        build_steps([_received("session.created"), _sent("x"), _received("y"), close])
    )
    replay.start()
    release = replay.on_client_event("x")
    assert _frame_types(release) == ["y"]
    assert release.close == (1011, "drop")
    assert replay.done


# --- over a real socket ------------------------------------------------------------------------


async def _connect(server: RecordingReplayServer, **kwargs: Any) -> ClientConnection:
    headers = kwargs.pop("headers", AUTH)
    url = kwargs.pop("url", f"{server.base_url}?model=gpt-realtime")
    return await connect(url, additional_headers=headers, **kwargs)


async def _play_exactly(server: RecordingReplayServer, rec: Recording) -> list[dict[str, Any]]:
    """Send the recorded client frames at their recorded points; return what came back."""
    got: list[dict[str, Any]] = []
    for part in connections(rec):
        async with await _connect(server) as ws:
            for direction, data in part:
                if direction == SENT:
                    await ws.send(json.dumps(data))
                elif direction == RECEIVED:
                    got.append(json.loads(await ws.recv()))
                else:
                    with pytest.raises(ConnectionClosed) as closed:
                        await ws.recv()
                    assert closed.value.rcvd is not None
                    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                        data["code"],
                        data["reason"],
                    )
    return got


@pytest.mark.parametrize("path", ALL_RECORDINGS)
async def test_recorded_client_gets_exactly_the_recorded_frames(path: Path | None) -> None:
    rec = _load(path)
    async with RecordingReplayServer(rec) as server, asyncio.timeout(10):
        got = await _play_exactly(server, rec)
        await server.wait_until_done(timeout=2)
    assert got == received_events(rec)
    assert server.client_events == sent_events(rec)
    assert server.requested_models == ["gpt-realtime"] * len(connections(rec))


Runs = list[tuple[int, list[dict[str, Any]]]]


def _client_runs(rec: Recording) -> Runs:
    """Recorded client runs, each with the number of server frames received before it."""
    runs: Runs = []
    received = 0
    for direction, data in rec.interactions:
        if direction == RECEIVED:
            received += 1
        elif runs and runs[-1][0] == received:
            runs[-1][1].append(data)
        else:
            runs.append((received, [data]))
    return runs


def _resplit_appends(factor: float) -> Callable[[Runs], Runs]:
    def transform(runs: Runs) -> Runs:
        result: Runs = []
        for before, events in runs:
            appends = [e for e in events if e["type"] == "input_audio_buffer.append"]
            others = [e for e in events if e["type"] != "input_audio_buffer.append"]
            count = max(1, round(len(appends) * factor)) if appends else 0
            chunk = {"type": "input_audio_buffer.append", "audio": "AAAA"}
            result.append((before, others + [chunk] * count))
        return result

    return transform


def _extra_session_updates(runs: Runs) -> Runs:
    other_client = {"type": "session.update", "session": {"type": "realtime"}}
    return [(before, [other_client, *events]) for before, events in runs]


def _skip_first_session_update(runs: Runs) -> Runs:
    (first_before, first), (_, second), *rest = runs
    assert [e["type"] for e in first] == ["session.update"]
    return [(first_before, second), *rest]


def _one_history_item(runs: Runs) -> Runs:
    result: Runs = []
    for before, events in runs:
        creates = [e for e in events if e["type"] == "conversation.item.create"]
        kept = [e for e in events if e["type"] != "conversation.item.create"]
        result.append((before, creates[-1:] + kept if len(creates) > 1 else events))
    return result


def _has_audio(rec: Recording) -> bool:
    return any(e["type"] == "input_audio_buffer.append" for e in sent_events(rec))


def _has_history(rec: Recording) -> bool:
    return any(
        [e["type"] for e in events].count("conversation.item.create") > 1
        for _, events in _client_runs(rec)
    )


VARIANTS: dict[str, tuple[Callable[[Runs], Runs], Callable[[Recording], bool]]] = {
    "fewer_bigger_appends": (_resplit_appends(0.5), _has_audio),
    "more_smaller_appends": (_resplit_appends(2), _has_audio),
    "extra_session_updates": (_extra_session_updates, lambda rec: True),
    "no_session_update": (_skip_first_session_update, lambda rec: True),
    "one_history_item": (_one_history_item, _has_history),
}


def _variant_params() -> list[Any]:
    params = []
    for param in GA_RECORDINGS:
        (path,) = param.values
        rec = load_recording(path) if path is not None else None
        for name, (_, applies) in VARIANTS.items():
            if rec is None or applies(rec):
                params.append(pytest.param(path, name, id=f"{param.id}-{name}"))
    return params


@pytest.mark.parametrize(("path", "variant"), _variant_params())
async def test_equivalent_client_still_gets_every_recorded_frame(
    path: Path | None, variant: str
) -> None:
    rec = _load(path)
    transform, _ = VARIANTS[variant]
    runs = transform(_client_runs(rec))
    expected = received_events(rec)
    got: list[dict[str, Any]] = []
    async with RecordingReplayServer(rec, idle_timeout=FAST_IDLE) as server, asyncio.timeout(10):
        async with await _connect(server) as ws:
            for before, events in runs:
                while len(got) < before:
                    got.append(json.loads(await ws.recv()))
                for event in events:
                    await ws.send(json.dumps(event))
            while len(got) < len(expected):
                got.append(json.loads(await ws.recv()))
        await server.wait_until_done(timeout=2)
    assert got == expected
    assert server.client_events == [e for _, events in runs for e in events]


async def test_server_holds_frames_until_the_client_sends_the_trigger() -> None:
    rec = _recorded("openai", "text_in_audio_out_turn")
    async with RecordingReplayServer(rec, idle_timeout=0.01) as server:
        async with await _connect(server) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.2)
            await ws.send(json.dumps(sent_events(rec)[0]))
            assert json.loads(await ws.recv())["type"] == "session.updated"


async def test_stall_timeout_plays_everything_to_a_silent_client() -> None:
    rec = _recorded("openai", "text_in_audio_out_turn")
    async with RecordingReplayServer(rec, stall_timeout=0.02) as server, asyncio.timeout(10):
        async with await _connect(server) as ws:
            got = [json.loads(await ws.recv()) for _ in received_events(rec)]
        await server.wait_until_done(timeout=2)
    assert got == received_events(rec)
    assert server.client_events == []


async def test_client_closing_early_leaves_the_server_healthy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = _recorded("openai", "text_in_audio_out_turn")
    async with RecordingReplayServer(rec) as server:
        async with await _connect(server) as ws:
            await ws.send(json.dumps(sent_events(rec)[0]))
        with pytest.raises(TimeoutError, match=r"waits for client events \['conversation"):
            await server.wait_until_done(timeout=0.3)
        assert server.connections_opened == 1
        with pytest.raises(InvalidStatus) as refused:
            await _connect(server)
        assert refused.value.response.status_code == 503
    assert server.client_events == sent_events(rec)[:1]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_client_closing_in_the_middle_of_a_run_is_handled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = _recorded("openai", "audio_in_server_vad_turn")
    async with RecordingReplayServer(rec, idle_timeout=FAST_IDLE) as server:
        async with await _connect(server) as ws:
            for event in sent_events(rec):
                await ws.send(json.dumps(event))
        with pytest.raises(TimeoutError):
            await server.wait_until_done(timeout=0.3)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_malformed_client_messages_are_recorded_and_ignored() -> None:
    rec = _recorded("openai", "text_in_audio_out_turn")
    async with RecordingReplayServer(rec) as server, asyncio.timeout(10):
        async with await _connect(server) as ws:
            await ws.recv()
            await ws.send("not json")
            await ws.send('{"no_type": 1}')
            await ws.send(json.dumps(sent_events(rec)[0]))
            assert json.loads(await ws.recv())["type"] == "session.updated"
    assert server.client_events[:2] == [
        {"type": None, "raw": "not json"},
        {"type": None, "raw": '{"no_type": 1}'},
    ]


async def test_handshake_checks_path_and_credentials_but_not_their_value() -> None:
    rec = _recorded("azure", "text_in_audio_out_turn")
    async with RecordingReplayServer(rec) as server:
        assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/v1/realtime", server.base_url)
        with pytest.raises(InvalidStatus) as no_key:
            await _connect(server, headers={})
        assert no_key.value.response.status_code == 401
        wrong_path = server.base_url.replace("/v1/realtime", "/v1/chat")
        with pytest.raises(InvalidStatus) as not_found:
            await _connect(server, url=wrong_path)
        assert not_found.value.response.status_code == 404
        azure_url = server.base_url.replace("/v1/", "/openai/v1/") + "?model=my-deployment"
        async with await _connect(server, url=azure_url, headers={"api-key": "k"}) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
    assert server.requested_models == ["my-deployment"]


async def test_wait_until_done_says_no_client_connected() -> None:
    rec = Recording("r", "openai", [_received("session.created")])
    async with RecordingReplayServer(rec) as server:
        with pytest.raises(TimeoutError, match="0 of 1 recorded connections opened"):
            await server.wait_until_done(timeout=0.05)
        async with await _connect(server) as ws:
            assert json.loads(await ws.recv()) == {"type": "session.created"}
            await server.wait_until_done(timeout=1)


def test_base_url_needs_a_running_server() -> None:
    server = RecordingReplayServer(Recording("r", "openai", []))
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url


async def test_from_file_loads_the_recording() -> None:
    path = recorded_dir("xai") / "text_in_audio_out_turn.yaml"
    async with RecordingReplayServer.from_file(path, idle_timeout=FAST_IDLE) as server:
        assert server.recording.name == "text_in_audio_out_turn"
        assert server.recording.provider == "xai"


async def test_stopping_with_a_client_still_connected_closes_it_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = _recorded("openai", "text_in_audio_out_turn")
    server = RecordingReplayServer(rec)
    await server.start()
    ws = await _connect(server)
    assert json.loads(await ws.recv())["type"] == "session.created"
    await server.stop()
    with pytest.raises(ConnectionClosed):
        await ws.recv()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_model_is_recorded_per_connection_even_when_absent() -> None:
    rec = _recorded("xai", "session_resumption_after_drop")
    async with RecordingReplayServer(rec) as server:
        async with await _connect(server, url=server.base_url) as ws:
            await ws.recv()
        async with await _connect(server, url=f"{server.base_url}?model=grok") as ws:
            await ws.recv()
    assert server.requested_models == [None, "grok"]
    assert server.connections_opened == 2


async def _first_frame_or_refusal(server: RecordingReplayServer) -> str:
    try:
        async with await _connect(server) as ws:
            return json.loads(await ws.recv())["type"]
    except InvalidStatus as refused:
        return f"http {refused.response.status_code}"
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return f"close {closed.rcvd.code}"


async def test_simultaneous_clients_get_one_recorded_connection_between_them() -> None:
    rec = _recorded("openai", "text_in_audio_out_turn")
    async with RecordingReplayServer(rec) as server, asyncio.timeout(10):
        outcomes = await asyncio.gather(*[_first_frame_or_refusal(server) for _ in range(3)])
    assert sorted(outcomes)[-1] == "session.created"
    assert set(sorted(outcomes)[:-1]) <= {"http 503", "close 1013"}
    assert server.connections_opened == 1
