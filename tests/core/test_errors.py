import pytest

from pipecat_realtime_openai.core.errors import (
    DEFAULT_RULE,
    ERROR_POLICY,
    PERMANENT_CATEGORIES,
    ErrorAction,
    classify_error,
    classify_http_status,
    error_policy_markdown,
)


@pytest.mark.parametrize(
    "code",
    ["invalid_api_key", "insufficient_quota", "account_deactivated", "billing_hard_limit_reached"],
)
def test_account_problems_are_fatal(code: str) -> None:
    assert classify_error(code, "invalid_request_error").action is ErrorAction.FATAL


@pytest.mark.parametrize(
    "code",
    [
        "response_cancel_not_active",
        "conversation_already_has_active_response",
        "input_audio_buffer_commit_empty",
        "item_truncate_invalid_item_id",
        "item_delete_invalid_item_id",
        "item_retrieve_invalid_item_id",
        "invalid_value",
        "rate_limit_exceeded",
        "server_error",
    ],
)
def test_races_and_bad_values_keep_the_session(code: str) -> None:
    assert classify_error(code, "invalid_request_error").action in (
        ErrorAction.IGNORE,
        ErrorAction.RECOVER,
    )


def test_session_expired_recycles_the_connection() -> None:
    assert classify_error("session_expired", "invalid_request_error").action is (
        ErrorAction.RECONNECT
    )


def test_unknown_code_falls_back_to_type_then_default() -> None:
    assert classify_error("brand_new_code", "server_error") is ERROR_POLICY["server_error"]
    assert classify_error("brand_new_code", "mystery") is DEFAULT_RULE
    assert classify_error(None, None) is DEFAULT_RULE
    assert DEFAULT_RULE.action is ErrorAction.RECOVER


def test_code_wins_over_type() -> None:
    assert classify_error("invalid_api_key", "server_error").action is ErrorAction.FATAL


@pytest.mark.parametrize("status", [401, 403])
def test_auth_http_statuses_are_fatal(status: int) -> None:
    rule = classify_http_status(status)
    assert rule.action is ErrorAction.FATAL


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_other_http_statuses_are_retried(status: int) -> None:
    assert classify_http_status(status).action is ErrorAction.RECONNECT


def test_auth_hints_name_the_environment_variable() -> None:
    assert "OPENAI_API_KEY" in classify_error("invalid_api_key").hint
    assert "OPENAI_API_KEY" in classify_http_status(401).hint


def test_every_rule_has_a_hint() -> None:
    for code, rule in ERROR_POLICY.items():
        assert rule.hint.strip(), code
        assert "|" not in rule.hint, code  # would break the Markdown table


def test_markdown_table_lists_every_code() -> None:
    table = error_policy_markdown()
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(ERROR_POLICY)
    for code, rule in ERROR_POLICY.items():
        assert f"| `{code}` | {rule.action.name} |" in table
    assert "*(any other)* | RECOVER" in table


def test_only_fatal_rules_carry_a_permanent_category() -> None:
    # Pipecat takes a processor out of service for an error of a permanent category,
    # so a recoverable error reported with one would silence the bot.
    rules = [*ERROR_POLICY.values(), DEFAULT_RULE]
    for rule in rules:
        if rule.action is not ErrorAction.FATAL:
            assert rule.category not in PERMANENT_CATEGORIES, rule
    assert any(r.category in PERMANENT_CATEGORIES for r in rules if r.action is ErrorAction.FATAL)
