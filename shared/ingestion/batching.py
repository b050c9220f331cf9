"""Embedding requests packed to the API's limits and sent with bounded concurrency.

One request per chunk wastes round trips and quota headroom; one giant request breaks the
API's limits (2,048 inputs, a token total). Inputs are packed in order into requests that
respect both, sent ``concurrency`` at a time, each first booking its tokens in the shared
budget. 429s and Retry-After are handled by the SDK's retries inside ``model.embed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shared.ingestion.quota import TokenBudget
from shared.llm import ModelClient
from shared.llm.types import Usage


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_inputs: int = 2048
    max_tokens: int = 100_000
    concurrency: int = 4


def plan_batches(token_counts: Sequence[int], policy: BatchPolicy) -> list[range]:
    """Consecutive index ranges, each within both the input and the token cap."""
    batches: list[range] = []
    first, tokens = 0, 0
    for i, count in enumerate(token_counts):
        if i > first and (i - first >= policy.max_inputs or tokens + count > policy.max_tokens):
            batches.append(range(first, i))
            first, tokens = i, 0
        tokens += count
    if len(token_counts) > first:
        batches.append(range(first, len(token_counts)))
    return batches


@dataclass
class EmbeddingBatcher:
    model: ModelClient
    policy: BatchPolicy
    budget: TokenBudget | None = None

    @property
    def effective(self) -> BatchPolicy:
        """The policy actually applied: a request must fit the whole token budget or it never runs."""
        if self.budget is None:
            return self.policy
        return BatchPolicy(self.policy.max_inputs, min(self.policy.max_tokens, self.budget.limit),
                           self.policy.concurrency)

    def whole_requests(self, token_counts: Sequence[int]) -> int:
        """How many leading inputs fill complete requests (all but the last, partial, one).

        A backfill embeds only these and carries the rest over to the next documents, so
        packing across many documents wastes at most one partial request in total.
        """
        batches = plan_batches(token_counts, self.effective)
        return batches[-1].start if batches else 0

    def embed(self, texts: Sequence[str], token_counts: Sequence[int]) -> tuple[list[list[float]], Usage, int]:
        """Vectors in input order, the summed usage and the number of requests sent."""
        model = self.model.model_for("embeddings")
        if not texts:
            return [], Usage(model=model, calls=0), 0
        policy = self.effective
        batches = plan_batches(token_counts, policy)

        def run(batch: range) -> tuple[list[list[float]], Usage]:
            counted = sum(token_counts[i] for i in batch)
            grant = self.budget.acquire(counted) if self.budget is not None else None
            result = self.model.embed([texts[i] for i in batch])
            if self.budget is not None and grant is not None:
                self.budget.settle(grant[0], counted, result.usage.prompt_tokens)
            return result.vectors, result.usage

        if len(batches) == 1 or policy.concurrency == 1:
            results = [run(b) for b in batches]
        else:
            with ThreadPoolExecutor(min(policy.concurrency, len(batches)), thread_name_prefix="embed") as pool:
                results = list(pool.map(run, batches))
        vectors = [v for batch_vectors, _ in results for v in batch_vectors]
        usage = results[0][1]
        for _, more in results[1:]:
            usage = usage + more
        return vectors, usage, len(batches)
