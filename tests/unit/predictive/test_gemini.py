"""The Gemini adapter (infrastructure/llm/gemini.py) on the real `google-genai` SDK, its HTTP
answered by an httpx2 mock transport: no network."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
import pytest

from learning_analytics.infrastructure.llm.gemini import GeminiReplyError, GeminiTextGenerator

pytestmark = pytest.mark.anyio

REPLY = '{"texts": ["Go on with unit 6."]}'


def gemini_answer(text: str | None) -> dict[str, object]:
    parts = [] if text is None else [{"text": text}]
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "modelVersion": "gemini-2.5-flash",
    }


def adapter(handler: Callable[[httpx2.Request], httpx2.Response],
            seen: list[httpx2.Request]) -> GeminiTextGenerator:  # fmt: skip
    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return handler(request)

    client = httpx2.AsyncClient(transport=httpx2.MockTransport(record))
    return GeminiTextGenerator(
        api_key="test-key", model="gemini-2.5-flash", timeout_seconds=3, http_client=client
    )


async def test_a_reply_is_the_models_text_and_the_request_is_json_mode() -> None:
    seen: list[httpx2.Request] = []
    gemini = adapter(lambda _: httpx2.Response(200, json=gemini_answer(REPLY)), seen)
    assert await gemini.generate(system="the instruction", prompt="the data") == REPLY
    [request] = seen
    assert request.method == "POST"
    assert request.url.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert request.headers["x-goog-api-key"] == "test-key"
    body = json.loads(request.content)
    assert body["contents"][0]["parts"][0]["text"] == "the data"
    assert body["systemInstruction"]["parts"][0]["text"] == "the instruction"
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    # The SDK sends this one field snake_case; the API accepts both spellings.
    assert list(body["generationConfig"]["thinkingConfig"].values()) == [0]
    await gemini.close()


async def test_an_error_status_raises_once_without_retries() -> None:
    seen: list[httpx2.Request] = []
    gemini = adapter(lambda _: httpx2.Response(503, json={"error": {"code": 503}}), seen)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the SDK's own error type
        await gemini.generate(system="s", prompt="p")
    assert "503" in str(raised.value)
    assert len(seen) == 1


async def test_an_answer_without_text_raises() -> None:
    seen: list[httpx2.Request] = []
    gemini = adapter(lambda _: httpx2.Response(200, json=gemini_answer(None)), seen)
    with pytest.raises(GeminiReplyError):
        await gemini.generate(system="s", prompt="p")


def test_no_key_no_client() -> None:
    with pytest.raises(ValueError, match="API key"):
        GeminiTextGenerator(api_key="", model="gemini-2.5-flash", timeout_seconds=3)
