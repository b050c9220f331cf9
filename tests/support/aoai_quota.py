"""Quota mode for the scripted server: Azure-style tokens-per-minute throttling.

Azure enforces a deployment's TPM over a sliding window and answers 429 with
the time until capacity frees; ingestion code must back off and still finish.
The window is configurable so a benchmark can squeeze a minute into seconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class TpmStats:
    """Outcome of quota mode so a benchmark can report throttling."""

    tokens_accepted: int = 0
    requests_accepted: int = 0
    requests_rejected: int = 0


class TokenWindow:
    """Sliding-window token budget, as Azure enforces TPM on a deployment."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.entries: deque[tuple[float, int]] = deque()
        self.used = 0
        self.stats = TpmStats()

    def admit(self, tokens: int, now: float) -> float | None:
        """Book ``tokens`` and return None, or return seconds until they would fit.

        A request larger than the whole budget can never fit; it is told to wait
        a full window, so a client with a retry budget eventually gives up.
        """
        while self.entries and self.entries[0][0] <= now - self.window:
            self.used -= self.entries.popleft()[1]
        s = self.stats
        if self.used + tokens <= self.limit:
            self.entries.append((now, tokens))
            self.used += tokens
            self.stats = TpmStats(s.tokens_accepted + tokens, s.requests_accepted + 1, s.requests_rejected)
            return None
        self.stats = TpmStats(s.tokens_accepted, s.requests_accepted, s.requests_rejected + 1)
        if tokens > self.limit:
            return self.window
        need, freed = self.used + tokens - self.limit, 0
        for stamp, n in self.entries:
            freed += n
            if freed >= need:
                return max(stamp + self.window - now, 0.001)
        return self.window  # unreachable: the whole window frees at least ``need``
