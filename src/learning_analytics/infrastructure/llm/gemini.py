"""Gemini through `google-genai`: the `TextGenerator` of the recommendation phraser.

Built only when `GEMINI_API_KEY` is set (no key: no client, no network call at all). One attempt
per call (no SDK retries), JSON output, no thinking budget, the request bounded by
`GEMINI_TIMEOUT_SECONDS`; the phraser bounds the whole call with the same timeout as well.
Tests inject an `httpx2.AsyncClient` with a mock transport through `http_client`.
"""

from __future__ import annotations

import httpx2
from google import genai
from google.genai import types


class GeminiReplyError(RuntimeError):
    """Gemini answered without any text (blocked, empty or cut off)."""


class GeminiTextGenerator:
    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        timeout_seconds: float,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("GeminiTextGenerator needs an API key")
        self.model = model
        options = types.HttpOptions(
            timeout=max(1, round(timeout_seconds * 1000)),
            retry_options=types.HttpRetryOptions(attempts=1),
            httpx_async_client=http_client,
        )
        self._client = genai.Client(api_key=api_key, http_options=options)
        self._config = types.GenerateContentConfig(
            response_mime_type="application/json",
            temperature=0.2,
            max_output_tokens=2048,
            thinking_config=types.ThinkingConfig(thinking_budget=0),
        )

    async def generate(self, *, system: str, prompt: str) -> str:
        config = self._config.model_copy(update={"system_instruction": system})
        response = await self._client.aio.models.generate_content(
            model=self.model, contents=prompt, config=config
        )
        text = response.text
        if not text:
            raise GeminiReplyError("Gemini returned no text")
        return text

    async def close(self) -> None:
        await self._client.aio.aclose()
