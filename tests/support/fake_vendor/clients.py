"""Official SDK clients pointed at any base URL (the fake directly, or the proxy in front of it)."""

from __future__ import annotations

import anthropic
import openai
from google import genai
from google.genai import types


def sdk_clients(
    base_url: str,
    api_key: str = "fake-key",
    *,
    max_retries: int = 0,
    timeout: float = 30.0,
    genai_api_version: str | None = None,
) -> tuple[anthropic.Anthropic, openai.OpenAI, genai.Client]:
    """``(anthropic, openai, google-genai)`` clients for ``base_url`` (host root, no ``/v1``).

    Retries are off by default so an error scenario costs one request, not three.
    """
    root = base_url.rstrip("/")
    anthropic_client = anthropic.Anthropic(base_url=root, api_key=api_key, max_retries=max_retries, timeout=timeout)
    openai_client = openai.OpenAI(base_url=root + "/v1", api_key=api_key, max_retries=max_retries, timeout=timeout)
    http_options = types.HttpOptions(
        base_url=root,
        api_version=genai_api_version,
        timeout=int(timeout * 1000),
        retry_options=types.HttpRetryOptions(attempts=max_retries + 1),
    )
    genai_client = genai.Client(api_key=api_key, http_options=http_options)
    return anthropic_client, openai_client, genai_client
