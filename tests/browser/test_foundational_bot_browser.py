"""The foundational example, end to end, from a real browser.

``examples/foundational_bot.py`` runs under Pipecat's development runner (SmallWebRTC),
pointed at the simulator as examples/README.md says. A headless Chromium opens a page
that connects to it over WebRTC; the page's microphone is a WAV file of synthetic
speech (Chromium's fake capture device). The test checks both ends: the simulator got
a committed user turn with over a second of speech in it and answered it, and the
answer came back to the page as WebRTC audio (inbound-rtp energy and level) and as the
bot's transcript over the RTVI data channel.

A screenshot of the page and the page's last WebRTC stats are kept in
``tests/artifacts/browser/`` (git-ignored), with the bot's and Chromium's logs.

Needs Chromium (``apt-get install chromium``); skips without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
import wave
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipecat_realtime_openai.audio.formats import AudioFormatSpec
from pipecat_realtime_openai.testing import RealtimeSimulator
from pipecat_realtime_openai.testing.synth import speak
from pipecat_realtime_openai.testing.vad import WINDOW_MS, threshold_to_rms
from tests.browser.cdp import INSTALL_HINT, Chromium, Page, chromium_path

for _module in ("aiortc", "uvicorn", "fastapi"):
    pytest.importorskip(_module, reason='needs Pipecat\'s WebRTC runner: pip install -e ".[dev]"')

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=f"Chromium not found; {INSTALL_HINT}")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"

QUESTION = "What is the weather like in Paris today?"
ANSWER = f"You said: {QUESTION}"  # the simulator's echo
CUT_OFF = "(a question cut off)"
MIN_SPEECH_MS = 1000
# inbound-rtp totalAudioEnergy grows by level^2 per second of audio: the answer's ~3 s
# at a level near 0.15 gives about 0.05, silence about 1e-6.
MIN_ANSWER_ENERGY = 0.005
TIMEOUT_S = 45.0

# The machine is closed: no STUN, no mDNS names for local addresses, loopback allowed.
CHROMIUM_FLAGS = (
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
)


def write_speech_wav(path: Path) -> Path:
    """The microphone: 2 s of silence, the question as synthetic speech, 6 s of silence.

    Chromium loops the file. The silences let the bot connect before the first words
    and let the answer finish before the next round.
    """
    rate = 48_000
    speech = speak(QUESTION, AudioFormatSpec("audio/pcm", rate, 2)).audio
    silence = bytes(2 * rate)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(silence * 2 + speech + silence * 6)
    return path


def speech_ms(audio: bytes, rate: int = 24_000) -> int:
    """How much of committed 16-bit audio is loud enough for the simulator's VAD."""
    samples = np.frombuffer(audio, dtype="<i2").astype(np.float64)
    window = rate * WINDOW_MS // 1000
    count = len(samples) // window
    if count == 0:
        return 0
    rms = np.sqrt(np.mean(samples[: count * window].reshape(count, window) ** 2, axis=1))
    return int(np.count_nonzero(rms >= threshold_to_rms(0.5))) * WINDOW_MS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until(
    check: Callable[[], Awaitable[Any]],
    what: str,
    timeout_s: float = TIMEOUT_S,
    state: Callable[[], object] = lambda: "",
) -> Any:
    """Poll `check` until it returns something truthy (generous: CI may be loaded).

    `state` describes what was seen, for the failure message.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if result := await check():
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}: {state()}")
        await asyncio.sleep(0.2)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def page_url() -> Iterator[str]:
    """The test page, served on loopback (a page needs an http origin to use the mic)."""
    body = (HERE / "page.html").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path in ("/", "/page.html")
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/page.html"
    server.shutdown()
    server.server_close()


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[RealtimeSimulator, list[int]]]:
    """The simulator, answering the question for a turn with enough speech in it.

    Yields the simulator and, per committed user turn, the ms of speech it heard.
    """
    heard: list[int] = []

    def transcribe(audio: bytes) -> str:
        heard.append(speech_ms(audio))
        # The first round may start before the bot is listening.
        return QUESTION if heard[-1] >= MIN_SPEECH_MS else CUT_OFF

    async with RealtimeSimulator(pace="realtime") as sim:
        sim.transcripts.transcriber = transcribe
        yield sim, heard


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # The runner waits for live sessions on SIGTERM; it gets a few seconds.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def launch_bot(base_url: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Start the example with no API key and the simulator as its endpoint."""
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env["OPENAI_REALTIME_BASE_URL"] = base_url
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                str(HERE / "loopback_bot.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--transport",
                "webrtc",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so the test can stop it and all it started.
            start_new_session=True,
        )


@pytest.fixture
async def bot_url(
    simulator: tuple[RealtimeSimulator, list[int]], artifacts: Path
) -> AsyncIterator[str]:
    """The example bot under the development runner, as examples/README.md runs it."""
    sim, _ = simulator
    port = free_port()
    log_path = artifacts / "bot.log"
    process = launch_bot(sim.base_url, port, log_path)
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the bot exited:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/", timeout=2):
                return True
        except OSError:
            return False

    async def up() -> bool:
        return await asyncio.to_thread(answering)

    try:
        await until(up, "the development runner to answer HTTP")
        yield url
    finally:
        await asyncio.to_thread(_stop, process)


@pytest.fixture
async def page(artifacts: Path, tmp_path: Path, page_url: str) -> AsyncIterator[Page]:
    """A headless Chromium on the test page, its microphone a WAV of speech."""
    assert CHROMIUM is not None
    wav = write_speech_wav(tmp_path / "question.wav")
    browser = Chromium(
        CHROMIUM,
        tmp_path / "profile",
        (*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={wav}"),
        log_path=artifacts / "chromium.log",
    )
    await browser.start()
    tab = None
    try:
        tab = await browser.open_page()
        await tab.send("Runtime.enable")
        await tab.send("Page.enable")
        await tab.send(
            "Emulation.setDeviceMetricsOverride",
            width=1000,
            height=720,
            deviceScaleFactor=1,
            mobile=False,
        )
        await tab.send("Page.navigate", url=page_url)

        async def loaded() -> bool:
            return bool(await tab.evaluate("typeof window.browserTest === 'object'"))

        await until(loaded, "the test page to load")
        yield tab
    finally:
        if tab is not None:
            (artifacts / "console.log").write_text("\n".join(tab.console) + "\n")
            await tab.close()
        browser.stop()


async def test_the_browser_hears_the_bot_answer_its_spoken_question(
    simulator: tuple[RealtimeSimulator, list[int]], bot_url: str, page: Page, artifacts: Path
) -> None:
    sim, heard = simulator
    await page.evaluate(f"browserTest.start({json.dumps(bot_url)})", timeout_s=TIMEOUT_S)
    conn = await sim.wait_for_connection(timeout_s=TIMEOUT_S)

    async def question_transcribed() -> dict[str, Any] | None:
        return next(
            (
                e
                for e in conn.server_events
                if e.get("type") == "conversation.item.input_audio_transcription.completed"
                and e.get("transcript") == QUESTION
            ),
            None,
        )

    def server_side() -> str:
        events = [t for t in conn.server_event_types if not t.endswith(".delta")]
        return f"speech heard per turn (ms) {heard}, server events {events}"

    turn = await until(
        question_transcribed, "the simulator to hear the spoken question", state=server_side
    )
    before = await page.evaluate("browserTest.snapshot()")
    last: dict[str, Any] = before

    async def answer_played() -> dict[str, Any] | None:
        nonlocal last
        snapshot = last = await page.evaluate("browserTest.snapshot()")
        messages = [tuple(m) for m in snapshot["messages"]]
        if ("bot-transcription", ANSWER) not in messages:
            return None
        # The bot says it stopped speaking once the answer's audio has gone out.
        answered_at = messages.index(("bot-transcription", ANSWER))
        stopped = [m for m in messages[answered_at:] if m[0] == "bot-stopped-speaking"]
        return snapshot if stopped else None

    after = await until(
        answer_played,
        "the page to get the bot's answer",
        state=lambda: f"{server_side()}; page {json.dumps(last)}",
    )
    await page.screenshot(artifacts / "foundational_bot.png")
    (artifacts / "foundational_bot.json").write_text(json.dumps(after, indent=2))
    print(f"\nscreenshot: {artifacts / 'foundational_bot.png'}")
    gained = after["audio"]["totalAudioEnergy"] - before["audio"]["totalAudioEnergy"]
    print(f"speech heard per user turn (ms): {heard}; answer energy: {gained:.4f}")
    print(f"page stats: {after['audio']}")

    # The simulator: a committed user turn with real speech in it, and an answer to it.
    committed = [e for e in conn.server_events if e.get("type") == "input_audio_buffer.committed"]
    assert turn["item_id"] in {e["item_id"] for e in committed}
    assert max(heard) >= MIN_SPEECH_MS
    answers = [
        part.get("transcript")
        for e in conn.server_events
        if e.get("type") == "response.done"
        for item in e["response"].get("output", [])
        for part in item.get("content", [])
    ]
    assert ANSWER in answers

    # The page: the answer arrived as audio, loud, while the bot was speaking it.
    assert gained >= MIN_ANSWER_ENERGY, (before["audio"], after["audio"])
    assert after["maxAudioLevel"] > 0.05
    assert after["audio"]["packetsReceived"] > before["audio"]["packetsReceived"]
    assert after["audio"]["totalSamplesReceived"] > before["audio"]["totalSamplesReceived"]
    # All of it over loopback.
    assert after["nominatedPairs"], after
    for pair in after["nominatedPairs"]:
        if pair["state"] == "succeeded":
            assert pair["local"] == pair["remote"] == "127.0.0.1", after["nominatedPairs"]

    await page.evaluate("browserTest.stop()")
