"""Error bodies of every shape become one readable, key-free line."""

from __future__ import annotations

import json

import pytest

from chatterm.api.server_errors import error_from_response, error_from_stream
from chatterm.api.types import ApiError
from chatterm.redact import redact

URL = "https://api.example.test/v1/chat/completions"


def err(
    status: int, body: object, content_type: str = "application/json", **kw: object
) -> ApiError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return error_from_response(status, raw, content_type, "prov", URL, **kw)  # type: ignore[arg-type]


def assert_one_line(error: ApiError) -> None:
    assert "\n" not in error.message and "\r" not in error.message
    assert len(error.message) <= 300
    assert str(error) == error.message


def test_openai_shape() -> None:
    e = err(401, {"error": {"message": "Incorrect API key provided.", "type":
                            "invalid_request_error", "code": "invalid_api_key"}})
    assert e.message == "prov: HTTP 401 Unauthorized: Incorrect API key provided."
    assert (e.status, e.code, e.provider, e.url) == (401, "invalid_api_key", "prov", URL)
    assert not e.retryable and not e.unknown_model
    assert_one_line(e)


def test_aimlapi_flat_403_reads_as_out_of_credits() -> None:
    body = {"statusCode": 403, "message": "You've run out of credits. Please top up your "
            "balance or update your payment method", "error": "Forbidden"}
    e = err(403, body)
    assert e.message.startswith("prov: out of credits (HTTP 403 Forbidden): You've run out")
    assert e.status == 403 and not e.retryable


def test_aimlapi_flat_403_without_credit_words_still_says_so() -> None:
    e = err(403, {"statusCode": 403, "message": "Forbidden resource"})
    assert "out of credits" in e.message and "Forbidden resource" in e.message


def test_aimlapi_flat_other_status_and_message_list() -> None:
    e = err(400, {"statusCode": 400, "message": ["model must be a string", "messages empty"]})
    assert e.message == "prov: HTTP 400 Bad Request: model must be a string; messages empty"


def test_mistral_shape() -> None:
    e = err(400, {"object": "error", "message": "Invalid model: mistral-hugeee", "type":
                  "invalid_model", "param": None, "code": "1500"})
    assert e.message == "prov: HTTP 400 Bad Request: Invalid model: mistral-hugeee"
    assert e.unknown_model
    assert e.code == "1500"


def test_mistral_nested_validation_message() -> None:
    e = err(422, {"object": "error", "message": {"detail": [
        {"loc": ["body", "temperature"], "msg": "Input should be less than 2"}]},
        "type": "invalid_request_message_error"})
    assert "body.temperature: Input should be less than 2" in e.message


def test_fastapi_422_detail() -> None:
    detail = [{"loc": ["body", "messages", i, "role"], "msg": "field required",
               "type": "missing"} for i in range(5)]
    e = err(422, {"detail": detail})
    assert e.message.startswith(
        "prov: HTTP 422 Unprocessable Entity: body.messages.0.role: field required; "
        "body.messages.1.role: field required;")
    assert e.message.endswith("(+2 more)")
    assert_one_line(e)


def test_fastapi_detail_string() -> None:
    assert err(404, {"detail": "Not Found"}).message == "prov: HTTP 404 Not Found: Not Found"


def test_html_page_reports_status_and_title_only() -> None:
    page = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway &amp; friends</title>"
            b"</head><body><h1>502</h1><p>" + b"x" * 5000 + b"</p></body></html>")
    e = err(502, page, "text/html; charset=utf-8")
    assert e.message == "prov: HTTP 502 Bad Gateway (an HTML error page titled " \
                        "'502 Bad Gateway & friends')"
    assert e.retryable


def test_html_without_content_type_or_title() -> None:
    e = err(503, b"<html><body>down</body></html>", "")
    assert e.message == "prov: HTTP 503 Service Unavailable (an HTML error page)"


def test_plain_text_first_line_truncated() -> None:
    e = err(500, b"\n\nupstream exploded " + b"z" * 1000 + b"\nsecond line", "text/plain")
    assert e.message.startswith("prov: HTTP 500 Internal Server Error: upstream exploded zzz")
    assert e.message.endswith("…")
    assert "second line" not in e.message
    assert_one_line(e)


def test_empty_body_and_unknown_status() -> None:
    assert err(504, b"", "").message == "prov: HTTP 504 Gateway Timeout (empty response)"
    assert err(599, b"", "").message == "prov: HTTP 599 (empty response)"


def test_broken_json_falls_back_to_text() -> None:
    e = err(500, b'{"error": {"message": "cut', "application/json")
    assert e.message == 'prov: HTTP 500 Internal Server Error: {"error": {"message": "cut'


def test_retryable_statuses() -> None:
    assert err(429, {"error": {"message": "slow down"}}).retryable
    assert err(500, b"x", "text/plain").retryable
    for status in (400, 401, 403, 404, 422):
        assert not err(status, {"error": {"message": "no"}}).retryable


@pytest.mark.parametrize("message", [
    "The model `gpt-9` does not exist or you do not have access to it.",
    "Model not found: foo/bar",
    "invalid model ID",
    "Unknown model: x",
    "model 'llama9' not found, try pulling it first",
])
def test_unknown_model_detected(message: str) -> None:
    assert err(404, {"error": {"message": message}}).unknown_model


def test_unknown_model_by_code_and_not_for_other_errors() -> None:
    assert err(404, {"error": {"message": "nope", "code": "model_not_found"}}).unknown_model
    assert not err(400, {"error": {"message": "max_tokens is too large for this model"}}
                   ).unknown_model


@pytest.mark.parametrize("secret", [
    "Bearer abcdef1234567890abcdef",
    "sk-proj-AbC123dEf456GhI789jKl012",
    "0123456789abcdef0123456789abcdef",              # 32 hex, AI/ML API shaped
    "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF",              # 32 mixed alnum, Mistral shaped
])
def test_keys_in_messages_are_redacted(secret: str) -> None:
    e = err(401, {"error": {"message": f"Invalid key: {secret} (check it)"}})
    assert secret not in e.message
    assert "[REDACTED]" in e.message
    assert "check it" in e.message


def test_given_secret_is_redacted_even_if_short_looking() -> None:
    e = err(401, {"error": {"message": "key hunter2xyz rejected"}}, secrets=["hunter2xyz"])
    assert "hunter2xyz" not in e.message


def test_model_ids_and_words_survive_redaction() -> None:
    text = "model mistralai/Mixtral-8x22B-Instruct-v0.1 not found; Token limit reached"
    assert redact(text, strict=True) == text


def test_one_redactor_is_strict_only_for_what_a_server_sent() -> None:
    # chatterm's own 32-hex conversation ids stay readable in its own notes; a server's
    # message has none, so the same shape is taken for a key there (the AI/ML API's).
    conversation_id = "0123456789abcdef0123456789abcdef"
    assert redact(f"saved as {conversation_id}") == f"saved as {conversation_id}"
    assert redact(f"bad key {conversation_id}", strict=True) == "bad key [REDACTED]"
    assert redact("Authorization: Basic dXNlcjpwYXNz", strict=True) == (
        "Authorization: Basic [REDACTED]")


def test_redaction_happens_before_truncation() -> None:
    key = "sk-" + "a1" * 30
    e = err(400, {"error": {"message": "x" * 270 + " " + key}})
    assert "a1a1a1" not in e.message


def test_control_characters_are_flattened() -> None:
    e = err(400, {"error": {"message": "bad\x1b[2Jthing\r\nhere\ttoo"}})
    assert "\x1b" not in e.message
    assert e.message.endswith("bad [2Jthing here too")


def test_error_from_stream_shapes() -> None:
    groq = {"error": {"message": "Tool choice is required", "type": "invalid_request_error",
                      "code": "tool_use_failed", "status_code": 400}}
    assert error_from_stream(groq) == (
        "the server reported an error mid-reply: Tool choice is required (tool_use_failed)",
        "tool_use_failed", 400)
    message, code, status = error_from_stream({"error": {"code": 400, "message": "Token limit"}})
    assert (code, status) == ("400", 400) and "Token limit" in message
    assert error_from_stream("plain words")[0].endswith("plain words")
    assert error_from_stream({"message": "flat", "statusCode": 503})[2] == 503
