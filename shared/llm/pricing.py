"""Estimated cost of a call from the price table in settings (USD per 1M tokens)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.llm.types import Usage


def price_of(prices: Mapping[str, Mapping[str, float]], *names: str | None) -> Mapping[str, float]:
    """The first name with a price: exact, else the longest table key it starts with.

    Azure deployments may be named anything; the response's ``model`` field (for example
    ``gpt-4o-mini-2024-07-18``) still names the model, so it is tried too.
    """
    for name in filter(None, names):
        key = name.lower()
        if key in prices:
            return prices[key]
        prefixes = [k for k in prices if key.startswith(k.lower())]
        if prefixes:
            return prices[max(prefixes, key=len)]
    return {}


def estimate(
    prices: Mapping[str, Mapping[str, float]],
    model: str,
    prompt_tokens: int,
    completion_tokens: int = 0,
    *,
    served_model: str | None = None,
) -> Usage:
    """Usage for one call; unknown models cost 0 rather than failing the call."""
    price = price_of(prices, model, served_model)
    cost = (prompt_tokens * price.get("input", 0.0) + completion_tokens * price.get("output", 0.0)) / 1e6
    return Usage(model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                 cost_usd=round(cost, 8))
