from pipecat_realtime_openai.testing.responder import (
    EchoResponder,
    FunctionCall,
    Reply,
    ResponseContext,
    ScriptedResponder,
    last_user_text,
)


def context(items=None) -> ResponseContext:
    items = items or []
    return ResponseContext(
        items=items,
        session={},
        response={},
        last_user_text=last_user_text(items),
        function_outputs={},
    )


def user_text(text):
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_echo_repeats_last_user_text_or_transcript():
    assert EchoResponder().reply(context([user_text("hi")])).text == "You said: hi"
    audio = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": "from audio"}],
    }
    assert EchoResponder().reply(context([user_text("old"), audio])).text == "You said: from audio"
    assert EchoResponder(fallback="?").reply(context([])).text == "?"


def test_scripted_plays_in_order_then_falls_back():
    scripted = ScriptedResponder([Reply(text="one"), lambda ctx: Reply(text="two")])
    assert scripted.reply(context()).text == "one"
    assert scripted.remaining == 1
    assert scripted.reply(context()).text == "two"
    assert scripted.reply(context([user_text("x")])).text == "You said: x"
    scripted.add(Reply(function_calls=[FunctionCall("f", {"a": 1})]))
    assert scripted.reply(context()).function_calls[0].arguments_json() == '{"a": 1}'


def test_reply_messages_and_last_function_output():
    assert Reply(text=["a", "b"]).messages() == ["a", "b"]
    assert Reply().messages() == []
    items = [{"type": "function_call_output", "call_id": "c", "output": "sunny"}]
    assert context(items).last_function_output == "sunny"
