"""Models with a shutdown date: one clear warning at start, naming the replacement."""

from datetime import date

from pipecat_realtime_openai.core.dialect import AZURE, XAI
from pipecat_realtime_openai.core.retirements import (
    RETIREMENTS,
    retirement_of,
    retirement_warning,
    session_retirement_warnings,
)
from pipecat_realtime_openai.protocol.session import (
    DEFAULT_REALTIME_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
)
from pipecat_realtime_openai.settings import DEFAULT_MODEL
from tests.core.session_kit import Kit, logs, sent

__all__ = ["logs"]  # a fixture

BEFORE = date(2026, 12, 3)
AFTER = date(2027, 3, 1)


def _transcribed(model: str) -> dict:
    return {"type": "realtime", "audio": {"input": {"transcription": {"model": model}}}}


def test_the_defaults_are_current_models() -> None:
    assert DEFAULT_MODEL == DEFAULT_REALTIME_MODEL == "gpt-realtime-2.1"
    assert retirement_of(DEFAULT_MODEL) is None
    assert retirement_of(DEFAULT_TRANSCRIPTION_MODEL) is None
    assert {r.replacement for r in RETIREMENTS} <= {DEFAULT_MODEL, DEFAULT_TRANSCRIPTION_MODEL}


def test_the_scheduled_shutdowns() -> None:
    days = {r.model: r.shuts_down for r in RETIREMENTS}
    assert days["gpt-realtime"] == days["gpt-realtime-mini"] == date(2027, 1, 20)
    for model in ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"):
        assert days[model] == date(2027, 2, 26)


def test_dated_snapshots_count_as_their_model_and_newer_models_do_not() -> None:
    assert retirement_of("gpt-realtime-2025-08-28").model == "gpt-realtime"
    assert retirement_of("gpt-realtime-mini-2025-10-06").model == "gpt-realtime-mini"
    for current in ("gpt-realtime-2", "gpt-realtime-2.1", "gpt-realtime-whisper", "grok-voice"):
        assert retirement_of(current) is None, current


def test_before_the_day_the_warning_counts_down_and_names_the_replacement() -> None:
    warning = retirement_warning("gpt-realtime", BEFORE)
    assert warning is not None
    assert "2027-01-20" in warning and "48 days" in warning and "'gpt-realtime-2.1'" in warning


def test_after_the_day_it_says_the_server_refuses_it() -> None:
    warning = retirement_warning("whisper-1", AFTER, "transcription model")
    assert warning is not None
    assert warning.startswith("the transcription model 'whisper-1' was shut down on 2027-02-26")
    assert "'gpt-realtime-whisper'" in warning


def test_a_session_names_both_its_models() -> None:
    found = session_retirement_warnings("gpt-realtime", _transcribed("gpt-4o-transcribe"), BEFORE)
    assert set(found) == {"gpt-realtime", "gpt-4o-transcribe"}
    assert session_retirement_warnings(DEFAULT_MODEL, _transcribed("x"), BEFORE) == {}
    assert session_retirement_warnings(None, {"audio": "bent"}, BEFORE) == {}


def test_a_retiring_model_is_warned_about_once_at_start(logs) -> None:
    kit = Kit(_transcribed("whisper-1"), model="gpt-realtime", today=lambda: BEFORE)
    kit.connect()
    update = kit.session.session_wanted(
        {**_transcribed("whisper-1"), "instructions": "Be brief."}, "gpt-realtime"
    )
    assert [e.type for e in sent(update)] == ["session.update"]
    warned = [line for line in logs if "shuts down" in line]
    assert len(warned) == 2, warned
    assert any("'gpt-realtime'" in line for line in warned)
    assert any("transcription model 'whisper-1'" in line for line in warned)
    assert all("WARNING" in line for line in warned)


def test_a_current_model_gets_no_warning(logs) -> None:
    Kit(_transcribed(DEFAULT_TRANSCRIPTION_MODEL), today=lambda: AFTER).connect()
    assert not [line for line in logs if "shut" in line]


def test_azure_and_xai_names_are_not_judged_by_openai_dates(logs) -> None:
    # An Azure deployment is a name the user chose; its model retires on Azure's dates.
    for dialect in (AZURE, XAI):
        Kit(model="gpt-realtime", dialect=dialect, today=lambda: AFTER).connect()
    assert not [line for line in logs if "shut" in line]
