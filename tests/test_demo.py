"""The examples: demo.py end to end against the simulator, its parts, and the foundational bot."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import wave
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

# The demo's helper modules import each other by bare name, as they do when the demo
# is run as a script from any directory.
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from demo_audio import (  # noqa: E402
    USER_SAMPLE_RATE,
    audio_frames,
    pcm_seconds,
    silence,
    synthetic_speech,
)
from demo_conversation import TURNS, DemoResponder, weather_report  # noqa: E402
from demo_monitor import TranscriptPrinter  # noqa: E402
from demo_timeline import (  # noqa: E402
    BOT,
    HEIGHT,
    INTERRUPTION,
    TOOL,
    USER,
    WIDTH,
    TurnPicture,
    describe_turn,
    render_timeline,
)
from PIL import Image  # noqa: E402

from pipecat_realtime_openai import ToolCallTiming, TurnInterruption, TurnTimeline  # noqa: E402
from pipecat_realtime_openai.testing import ResponseContext  # noqa: E402


def _example_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    # The package may not be installed (tests run from the checkout): point at it.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


# --- demo.py end to end ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    workdir = tmp_path_factory.mktemp("demo")
    output = workdir / "bot.wav"
    # The picture goes to its default name in the working directory.
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py"), "--pace", "fast", "--output", str(output)],
        cwd=workdir,
        env=_example_env(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    return result, output


def test_demo_exits_zero_against_the_simulator(demo_run) -> None:
    result, _ = demo_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OPENAI_API_KEY is not set" in result.stdout
    assert "simulator" in result.stdout


def test_demo_prints_the_transcript(demo_run) -> None:
    out = demo_run[0].stdout
    for turn in TURNS:
        if turn.spoken:
            assert f"user:      {turn.text}  (transcript of the spoken turn)" in out
        else:
            assert f"user:      {turn.text}" in out
    assistant = [line for line in out.splitlines() if line.startswith("assistant: ")]
    assert assistant == [
        "assistant: Hi! I'm a voice assistant running on the OpenAI Realtime API. "
        "Ask me about the weather.",
        "assistant: In Paris it's light rain and 14 degrees.",
        "assistant: Yes, take one: light rain is expected all afternoon.",
    ]
    assert 'tool:      get_weather({"city": "Paris"})' in out


def test_demo_prints_a_summary(demo_run) -> None:
    out = demo_run[0].stdout
    assert "user turns:       3 (1 spoken)" in out
    assert "bot answers:      3" in out
    assert "tool calls:       1 (get_weather)" in out
    # Three answers and the response that made the tool call: no response twice.
    assert "total over 4 responses" in out


def test_demo_saves_the_bot_audio(demo_run) -> None:
    _, output = demo_run
    with wave.open(str(output), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
        seconds = wav.getnframes() / wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert seconds > 1.0
    # The simulator's synthetic voice, not silence.
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 300


def test_demo_prints_the_latencies_of_each_turn(demo_run) -> None:
    out = demo_run[0].stdout
    section = out[out.index("Latency per turn") :].splitlines()[1:4]
    assert section[0].startswith("  turn 1 (typed): first audio ")
    assert section[1].startswith("  turn 2 (spoken): voice-to-voice ")
    assert "stop->commit " in section[1] and "commit->first audio " in section[1]
    assert "tool get_weather " in section[1]
    assert section[2].startswith("  turn 3 (typed): first audio ")
    # Every figure is a measured, non-negative number of milliseconds.
    figures = re.findall(r"(-?\d+) ms", "\n".join(section))
    assert len(figures) >= 8 and all(int(f) >= 0 for f in figures)
    assert "timeline:         demo_timeline.png" in out


def test_demo_draws_the_timeline(demo_run) -> None:
    _, output = demo_run
    picture = output.parent / "demo_timeline.png"
    with Image.open(picture) as image:
        assert image.format == "PNG"
        assert image.size == (WIDTH, HEIGHT)
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    colours = {tuple(p) for p in pixels[::7]}
    # Bars of the user, the bot and the tool, and text: far more than a blank canvas.
    assert {USER, BOT, TOOL} <= colours
    assert (pixels != 255).any(axis=1).mean() > 0.05


def test_demo_stops_with_status_1_when_the_key_is_rejected(tmp_path: Path) -> None:
    # The simulator is made to expect another key, as OpenAI rejects a wrong one.
    script = (
        "import functools, sys; sys.path.insert(0, sys.argv[1]); import demo; "
        "demo.RealtimeSimulator = functools.partial(demo.RealtimeSimulator, api_key='right'); "
        "sys.exit(demo.main(sys.argv[2:]))"
    )
    output = tmp_path / "bot.wav"
    result = subprocess.run(
        [sys.executable, "-c", script, str(EXAMPLES), "--output", str(output), "--timeout", "30"],
        cwd=tmp_path,
        env=_example_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "The service stopped with an error" in result.stdout
    assert "invalid_api_key" in result.stdout
    assert "bot answers:      0" in result.stdout
    assert "Gave up" not in result.stdout


def test_demo_needs_no_webrtc_or_runner_modules() -> None:
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import demo; "
        "heavy = ('aiortc', 'fastapi', 'pipecat.runner.run', 'pipecat.transports.smallwebrtc');"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(EXAMPLES)],
        env=_example_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- demo parts -----------------------------------------------------------------------


def _context(items: list[dict], user_text: str | None) -> ResponseContext:
    outputs = {i["call_id"]: i["output"] for i in items if i.get("type") == "function_call_output"}
    return ResponseContext(
        items=items, session={}, response={}, last_user_text=user_text, function_outputs=outputs
    )


def _user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_responder_calls_the_weather_tool_for_a_weather_question() -> None:
    reply = DemoResponder().reply(
        _context([_user("What's the weather in Paris?")], "What's the weather in Paris?")
    )
    assert reply.text is None
    assert [(c.name, c.arguments) for c in reply.function_calls] == [
        ("get_weather", {"city": "Paris"})
    ]


def test_responder_speaks_the_tool_result() -> None:
    output = json.dumps(weather_report("paris"))
    items = [
        _user("weather?"),
        {"type": "function_call_output", "call_id": "c1", "output": output},
    ]
    reply = DemoResponder().reply(_context(items, "weather?"))
    assert reply.text == "In Paris it's light rain and 14 degrees."
    assert not reply.function_calls


def test_responder_umbrella_answer_follows_the_tool_result() -> None:
    rainy = json.dumps(weather_report("Paris"))
    dry = json.dumps(weather_report("Madrid"))
    for output, expected in ((rainy, "Yes"), (dry, "No")):
        items = [
            {"type": "function_call_output", "call_id": "c1", "output": output},
            _user("Do I need an umbrella?"),
        ]
        reply = DemoResponder().reply(_context(items, "Do I need an umbrella?"))
        assert isinstance(reply.text, str) and reply.text.startswith(expected)


def test_weather_report_knows_paris_and_defaults_elsewhere() -> None:
    assert weather_report(" paris ") == {
        "city": "Paris",
        "conditions": "light rain",
        "temperature_c": 14,
    }
    assert weather_report("Madrid")["conditions"] == "sunny"


def test_printer_holds_lines_that_arrive_mid_sentence() -> None:
    written: list[str] = []
    printer = TranscriptPrinter(write=written.append)
    printer.stream(" Hello")
    printer.line("user:      late transcript")
    printer.stream(" there.")
    printer.end_stream()
    printer.line("tool:      after")
    assert "".join(written) == (
        "assistant: Hello there.\nuser:      late transcript\ntool:      after\n"
    )


def test_synthetic_speech_is_loud_enough_for_vad_and_the_right_length() -> None:
    pcm = synthetic_speech(1.5)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    assert pcm_seconds(pcm, USER_SAMPLE_RATE) == pytest.approx(1.5)
    # Every 10 ms window after the fade-in is above the -40 dBFS server VAD default level.
    windows = samples[: len(samples) // 160 * 160].reshape(-1, 160)[3:-3]
    assert np.sqrt(np.mean(windows**2, axis=1)).min() > 328
    assert np.abs(samples).max() < 32767


def test_the_timeline_picture_marks_an_interruption(tmp_path: Path) -> None:
    cut = TurnTimeline(
        1,
        response_created=0.0,
        first_audio_received=0.3,
        reply_done=1.5,
        interruption=TurnInterruption(2.0, 1690),
    )
    answer = TurnTimeline(
        2,
        user_speech_started=2.0,
        user_speech_stopped=3.0,
        committed=3.1,
        response_created=3.15,
        first_audio_pushed=3.9,
        reply_done=5.0,
        tool_calls=(ToolCallTiming("get_weather", "c1", 3.3, 3.7),),
    )
    image = render_timeline([TurnPicture(cut, 4.0), TurnPicture(answer, 2.0)], tmp_path / "t.png")
    assert (tmp_path / "t.png").exists()
    pixels = {tuple(p) for p in np.asarray(image).reshape(-1, 3)}
    assert INTERRUPTION in pixels
    plain = render_timeline([TurnPicture(answer, 2.0)], tmp_path / "u.png")
    # Above the axis (the legend below it shows every colour).
    chart = np.asarray(plain)[: HEIGHT // 2 + 60]
    assert INTERRUPTION not in {tuple(p) for p in chart.reshape(-1, 3)}
    assert describe_turn(cut) == (
        "turn 1 (typed): first audio 300 ms, first audio->done 1200 ms, "
        "interrupted after 1690 ms heard"
    )
    assert describe_turn(answer) == (
        "turn 2 (spoken): voice-to-voice 900 ms, stop->commit 100 ms, "
        "commit->first audio 800 ms, first audio->done 1100 ms, tool get_weather 400 ms"
    )


def test_audio_frames_cut_pcm_into_20ms_frames() -> None:
    pcm = synthetic_speech(0.1) + silence(0.05)
    frames = audio_frames(pcm, USER_SAMPLE_RATE)
    assert [len(f.audio) for f in frames] == [640] * 7 + [320]
    assert b"".join(f.audio for f in frames) == pcm
    assert all(f.sample_rate == USER_SAMPLE_RATE and f.num_channels == 1 for f in frames)


# --- foundational_bot.py --------------------------------------------------------------


def _load_foundational_bot() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "foundational_bot", EXAMPLES / "foundational_bot.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _require_examples_extra() -> None:
    missing = [
        name for name in ("aiortc", "fastapi", "uvicorn") if importlib.util.find_spec(name) is None
    ]
    if missing:
        pytest.skip(
            f"the examples extra is not installed (missing {', '.join(missing)}):"
            ' pip install -e ".[examples]"'
        )


async def test_foundational_bot_builds_its_pipeline_without_connecting() -> None:
    _require_examples_extra()
    bot = _load_foundational_bot()
    from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregator
    from pipecat.runner.types import SmallWebRTCRunnerArguments
    from pipecat.runner.utils import create_transport
    from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
    from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

    from pipecat_realtime_openai import OpenAIRealtimeLLMService

    runner_args = SmallWebRTCRunnerArguments(webrtc_connection=SmallWebRTCConnection())
    transport = await create_transport(runner_args, bot.transport_params)
    assert isinstance(transport, SmallWebRTCTransport)

    worker = bot.build_worker(transport, runner_args, api_key="sk-test-never-sent")

    processors = _walk(worker.pipeline)
    services = [p for p in processors if isinstance(p, OpenAIRealtimeLLMService)]
    assert len(services) == 1
    llm = services[0]
    assert llm.settings.system_instruction == bot.INSTRUCTIONS
    assert llm.has_function("get_weather")
    session = llm.settings.session_properties
    assert session.audio.input.turn_detection.type == "semantic_vad"
    assert session.audio.input.transcription is not None
    assert any(isinstance(p, LLMUserAggregator) for p in processors)
    # Server VAD drives the turns: the transport runs no VAD of its own.
    assert getattr(transport._params, "vad_analyzer", None) is None


async def test_foundational_bot_refuses_to_start_without_a_key(monkeypatch) -> None:
    bot = _load_foundational_bot()
    from pipecat.runner.types import SmallWebRTCRunnerArguments

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_REALTIME_BASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="OPENAI_API_KEY"):
        await bot.bot(SmallWebRTCRunnerArguments(webrtc_connection=None))


def test_foundational_bot_connection_settings(monkeypatch) -> None:
    bot = _load_foundational_bot()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.delenv("OPENAI_REALTIME_BASE_URL", raising=False)
    assert bot.connection_settings() == ("sk-from-env", None)
    # A local simulator needs no key.
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_REALTIME_BASE_URL", "ws://127.0.0.1:8765/v1/realtime")
    assert bot.connection_settings() == ("local-simulator", "ws://127.0.0.1:8765/v1/realtime")


def test_foundational_bot_service_points_at_the_given_endpoint() -> None:
    bot = _load_foundational_bot()
    llm = bot.build_service("sk-test-never-sent", "ws://127.0.0.1:1/v1/realtime")
    assert llm.base_url.startswith("ws://127.0.0.1:1/v1/realtime?model=")
    assert llm.has_function("get_weather")
    assert llm.settings.system_instruction == bot.INSTRUCTIONS


def _walk(processor) -> list:
    found = [processor]
    for child in getattr(processor, "processors", []) or []:
        found.extend(_walk(child))
    return found
