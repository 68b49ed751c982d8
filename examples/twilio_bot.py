"""Phone bot: a Twilio Media Stream talking to the OpenAI Realtime API, G.711 end to end.

A FastAPI app with two endpoints:

- ``POST /twiml`` (GET works too) answers Twilio's voice webhook with TwiML that connects
  the call to a bidirectional media stream on ``/ws``;
- ``/ws`` is that stream: it reads Twilio's ``connected`` and ``start`` messages (stream
  and call SIDs), then runs a Pipecat pipeline over the socket with Pipecat's
  ``FastAPIWebsocketTransport`` and ``TwilioFrameSerializer``.

The pipeline runs at 8 kHz both ways, the rate of the call, so the realtime service puts
``audio/pcmu`` on the session both ways by itself: the caller's mu-law audio is decoded
once to 8 kHz PCM and never resampled, and the bot's audio comes back at 8 kHz.
``--format pcma`` (or ``TWILIO_BOT_AUDIO_FORMAT=pcma``) names ``audio/pcma`` instead.

Run it against OpenAI::

    .venv/bin/pip install -e ".[examples]"
    export OPENAI_API_KEY=sk-...
    .venv/bin/python examples/twilio_bot.py
    ngrok http 7860      # then set the number's voice webhook to https://<ngrok host>/twiml

or without a key, against the bundled simulator (it echoes what it hears)::

    .venv/bin/python -m pipecat_realtime_openai.testing --port 8765 &
    .venv/bin/python examples/twilio_bot.py --base-url ws://127.0.0.1:8765/v1/realtime

With ``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN`` set, the serializer hangs the call
up through Twilio's REST API when the pipeline ends; without them it does not try.

Each answer of the bot is followed by a Twilio ``mark`` message. Twilio sends the mark
back when the caller has heard the answer to its end, or at once when the answer is cut
off by a ``clear`` (the caller spoke over the bot): the bot logs which.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from loguru import logger
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    InterruptionFrame,
    LLMRunFrame,
    OutputTransportMessageFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.workers.runner import WorkerRunner

from pipecat_realtime_openai import OpenAIRealtimeLLMService, events

TELEPHONE_RATE = 8000
START_TIMEOUT_S = 10.0

INSTRUCTIONS = """You are a friendly voice assistant answering the phone.

Keep your answers short: one or two sentences. The caller hears you over a phone line,
so do not spell out lists, links or symbols."""

AudioFormat = Literal["pcmu", "pcma"]


@dataclass(frozen=True)
class BotConfig:
    """What the bot needs to know, from the environment and the command line.

    Attributes:
        api_key: OpenAI API key (any text for the simulator).
        base_url: Realtime endpoint; None for OpenAI's.
        audio_format: G.711 variant on the session: ``pcmu`` (mu-law, chosen by the
            service for an 8 kHz pipeline) or ``pcma`` (A-law, named on the session).
        twilio_account_sid: Account SID for hanging up through the REST API.
        twilio_auth_token: Auth token for hanging up; without it the bot never tries.
        public_host: Host name Twilio reaches the app at, for the TwiML stream URL;
            None takes it from the webhook request.
    """

    api_key: str
    base_url: str | None = None
    audio_format: AudioFormat = "pcmu"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    public_host: str | None = None


@dataclass(frozen=True)
class CallStart:
    """What Twilio's ``start`` message says about the stream."""

    stream_sid: str
    call_sid: str | None
    account_sid: str | None
    media_format: dict[str, Any]


@dataclass
class CallRecord:
    """What happened on one call (kept on ``app.state.calls`` for tests and logs).

    Attributes:
        start: The stream's ``start`` message.
        marks_sent: Names of the marks sent to Twilio (one after each answer that was
            not cut off before its end was queued).
        marks_played: Names of the marks Twilio sent back, in order.
        clears: ``clear`` messages sent (answers cut off by the caller).
        errors: Error frames the pipeline reported.
        stopped: Whether Twilio sent ``stop``.
        finished: Whether the pipeline has finished.
    """

    start: CallStart
    marks_sent: list[str] = field(default_factory=list)
    marks_played: list[str] = field(default_factory=list)
    clears: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class CallSerializer(TwilioFrameSerializer):
    """Pipecat's Twilio serializer, with the call's ``mark``, ``clear`` and ``stop`` noted.

    The base serializer ignores the ``mark`` and ``stop`` messages Twilio sends; they are
    how the bot learns what the caller heard and that the call is over.
    """

    def __init__(self, record: CallRecord, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._record = record

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, InterruptionFrame):
            self._record.clears += 1
        elif (
            isinstance(frame, OutputTransportMessageFrame) and frame.message.get("event") == "mark"
        ):
            # Noted here, as it goes out: a mark queued behind an answer that is cut
            # off is dropped with the rest of that answer's audio.
            self._record.marks_sent.append(frame.message["mark"]["name"])
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        # Media messages, 50 a second, go straight to the base class: only the rare
        # others are parsed here as well.
        if isinstance(data, str) and '"media"' not in data[:40]:
            try:
                message = json.loads(data)
            except json.JSONDecodeError:
                message = None
            event = message.get("event") if isinstance(message, dict) else None
            if event == "mark":
                name = str((message.get("mark") or {}).get("name"))
                self._record.marks_played.append(name)
                logger.info(f"Twilio played up to mark {name}")
                return None
            if event == "stop":
                logger.info("Twilio stopped the stream: the call is over")
                self._record.stopped.set()
                return None
        return await super().deserialize(data)


class AnswerMarks(FrameProcessor):
    """Sends a Twilio ``mark`` after the audio of each answer.

    The mark goes through the output transport's audio queue behind the answer's last
    chunk, so Twilio echoes it once that audio has been played to the caller.
    """

    def __init__(self, stream_sid: str) -> None:
        super().__init__()
        self._stream_sid = stream_sid
        self._answers = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TTSStoppedFrame) and direction == FrameDirection.DOWNSTREAM:
            self._answers += 1
            name = f"answer-{self._answers}"
            mark = {"event": "mark", "streamSid": self._stream_sid}
            await self.push_frame(
                OutputTransportMessageFrame(message={**mark, "mark": {"name": name}})
            )


def config_from_environment(
    base_url: str | None = None, audio_format: str | None = None
) -> BotConfig:
    """The bot's configuration from the environment, overridden by the given options.

    Args:
        base_url: Realtime endpoint (else ``OPENAI_REALTIME_BASE_URL``).
        audio_format: ``pcmu`` or ``pcma`` (else ``TWILIO_BOT_AUDIO_FORMAT``, else pcmu).

    Raises:
        RuntimeError: When no key is set and no other endpoint is given.
        ValueError: When the audio format is neither ``pcmu`` nor ``pcma``.
    """
    base_url = base_url or os.environ.get("OPENAI_REALTIME_BASE_URL") or None
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key:
        if not base_url:
            raise RuntimeError("Set OPENAI_API_KEY, or --base-url for a local simulator.")
        # A local simulator accepts any key.
        api_key = "local-simulator"
    chosen = (audio_format or os.environ.get("TWILIO_BOT_AUDIO_FORMAT") or "pcmu").lower()
    if chosen not in ("pcmu", "pcma"):
        raise ValueError(f"the audio format is pcmu or pcma, not {chosen!r}")
    return BotConfig(
        api_key=api_key,
        base_url=base_url,
        audio_format="pcma" if chosen == "pcma" else "pcmu",
        twilio_account_sid=os.environ.get("TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=os.environ.get("TWILIO_AUTH_TOKEN") or None,
        public_host=os.environ.get("TWILIO_BOT_PUBLIC_HOST") or None,
    )


def build_service(config: BotConfig) -> OpenAIRealtimeLLMService:
    """The realtime service for a phone call."""
    audio_input = events.AudioInput(
        transcription=events.InputAudioTranscription(),
        turn_detection=events.SemanticTurnDetection(eagerness="auto"),
        noise_reduction=events.InputAudioNoiseReduction(type="near_field"),
    )
    audio_output = events.AudioOutput(voice="marin")
    if config.audio_format == "pcma":
        # pcmu needs no naming: the service picks it for an 8 kHz pipeline.
        audio_input.format = events.PCMAAudioFormat()
        audio_output.format = events.PCMAAudioFormat()
    endpoint = {"base_url": config.base_url} if config.base_url else {}
    return OpenAIRealtimeLLMService(
        api_key=config.api_key,
        **endpoint,
        settings=OpenAIRealtimeLLMService.Settings(
            system_instruction=INSTRUCTIONS,
            session_properties=events.SessionProperties(
                audio=events.AudioConfiguration(input=audio_input, output=audio_output)
            ),
        ),
    )


def build_serializer(config: BotConfig, record: CallRecord) -> CallSerializer:
    """The Twilio serializer; it hangs up through the REST API only with credentials."""
    start = record.start
    account_sid = config.twilio_account_sid or start.account_sid
    hang_up = bool(config.twilio_auth_token and account_sid and start.call_sid)
    return CallSerializer(
        record,
        stream_sid=start.stream_sid,
        call_sid=start.call_sid,
        account_sid=account_sid if hang_up else None,
        auth_token=config.twilio_auth_token if hang_up else None,
        params=TwilioFrameSerializer.InputParams(auto_hang_up=hang_up),
    )


async def read_call_start(websocket: WebSocket) -> CallStart:
    """Read Twilio's first messages up to ``start``.

    Raises:
        ValueError: When the stream does not begin with ``connected`` / ``start``, or its
            audio is not 8 kHz mono mu-law (what a Twilio media stream carries).
    """
    for _ in range(3):
        message = json.loads(await websocket.receive_text())
        event = message.get("event")
        if event == "connected":
            continue
        if event != "start":
            raise ValueError(f"expected Twilio's start message, got {event!r}")
        start = message.get("start") or {}
        media_format = start.get("mediaFormat") or {}
        wanted = {"encoding": "audio/x-mulaw", "sampleRate": TELEPHONE_RATE, "channels": 1}
        if any(media_format.get(key) != value for key, value in wanted.items()):
            raise ValueError(f"unsupported media format {media_format}")
        return CallStart(
            stream_sid=start.get("streamSid") or message["streamSid"],
            call_sid=start.get("callSid"),
            account_sid=start.get("accountSid"),
            media_format=media_format,
        )
    raise ValueError("no start message from Twilio")


async def run_call(websocket: WebSocket, config: BotConfig, record: CallRecord) -> None:
    """Run the bot's pipeline for one call until the call ends."""
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=build_serializer(config, record),
            # The stream has ended when the caller hangs up: no silence to flush.
            audio_out_end_silence_secs=0,
        ),
    )
    context = LLMContext([{"role": "developer", "content": "Greet the caller briefly."}])
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(context)
    pipeline = Pipeline(
        [
            transport.input(),
            user_aggregator,
            build_service(config),
            AnswerMarks(record.start.stream_sid),
            transport.output(),
            assistant_aggregator,
        ]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=TELEPHONE_RATE, audio_out_sample_rate=TELEPHONE_RATE
        ),
        enable_rtvi=False,
    )

    @transport.event_handler("on_client_connected")
    async def on_client_connected(transport: Any, client: Any) -> None:
        await worker.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport: Any, client: Any) -> None:
        record.stopped.set()

    @worker.event_handler("on_pipeline_error")
    async def on_pipeline_error(worker: Any, frame: ErrorFrame) -> None:
        record.errors.append(frame.error)

    async def end_when_stopped() -> None:
        # Twilio's stop (or the socket closing) ends the call; nothing is left to say.
        await record.stopped.wait()
        await worker.cancel()

    ender = asyncio.create_task(end_when_stopped())
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    try:
        await runner.run()
    finally:
        ender.cancel()
        await asyncio.gather(ender, return_exceptions=True)
        record.finished.set()


def twiml(stream_url: str) -> str:
    """TwiML that connects the call to a bidirectional media stream at `stream_url`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Connect><Stream url={quoteattr(stream_url)} /></Connect></Response>"
    )


def create_app(config: BotConfig) -> FastAPI:
    """The FastAPI app: the TwiML webhook and the media stream endpoint.

    ``app.state.calls`` lists a `CallRecord` per call, oldest first; ``app.state.config``
    is `config`.
    """
    app = FastAPI()
    app.state.config = config
    app.state.calls = []

    @app.api_route("/twiml", methods=["GET", "POST"])
    async def answer_call(request: Request) -> Response:
        host = config.public_host or request.headers.get("host", "localhost")
        return Response(content=twiml(f"wss://{host}/ws"), media_type="application/xml")

    @app.websocket("/ws")
    async def media_stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                start = await read_call_start(websocket)
        except (ValueError, KeyError, TimeoutError, WebSocketDisconnect) as error:
            logger.warning(f"Not a Twilio media stream: {error}")
            await websocket.close(code=1008)
            return
        logger.info(f"Call {start.call_sid}: stream {start.stream_sid} started")
        record = CallRecord(start)
        app.state.calls.append(record)
        await run_call(websocket, config, record)
        logger.info(f"Call {start.call_sid}: ended")

    return app


def main() -> None:
    """Serve the bot with uvicorn."""
    parser = argparse.ArgumentParser(description="Twilio phone bot on the OpenAI Realtime API")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="TCP port (default 7860)")
    parser.add_argument("--base-url", default=None, help="Realtime endpoint (e.g. a simulator)")
    parser.add_argument(
        "--format", choices=("pcmu", "pcma"), default=None, help="G.711 variant (default pcmu)"
    )
    args = parser.parse_args()
    import uvicorn

    config = config_from_environment(args.base_url, args.format)
    backend = config.base_url or "OpenAI"
    logger.info(f"Realtime backend: {backend}; session audio: audio/{config.audio_format}")
    uvicorn.run(create_app(config), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
