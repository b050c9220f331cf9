"""Estimated cost of a call from the price table in settings (USD per 1M tokens)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.llm.types import Usage


def estimate(
    prices: Mapping[str, Mapping[str, float]], model: str, prompt_tokens: int, completion_tokens: int = 0
) -> Usage:
    """Usage for one call; unknown models cost 0 rather than failing the call."""
    price = prices.get(model) or prices.get(model.lower()) or {}
    cost = (prompt_tokens * price.get("input", 0.0) + completion_tokens * price.get("output", 0.0)) / 1e6
    return Usage(model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                 cost_usd=round(cost, 8))
