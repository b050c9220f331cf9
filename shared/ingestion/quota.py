"""A tokens-per-minute budget shared by every invocation and every scaled-out instance.

Azure OpenAI throttles a deployment by tokens per minute. Each instance retrying its own
429s turns scale-out into a 429 storm; instead every request first books its tokens in
PostgreSQL (``ragworker_quota_acquire``, a sliding window behind an advisory lock) and waits
exactly until the window has room. After the call, the booking is corrected to the tokens
the service reported (and re-stamped, since the service counted them on arrival), and the
ratio between reported and counted tokens sharpens later estimates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from shared.db import Database
from shared.errors import TransientError

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
#: Reported / counted tokens per scope, learnt from responses; per process, like the pools.
_RATIOS: dict[str, float] = {}


class TokenBudget:
    """Book tokens before a request; ``settle`` with the real usage afterwards."""

    def __init__(
        self,
        db: Database,
        *,
        scope: str,
        limit: int,
        window_seconds: float = 60.0,
        max_wait_seconds: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.scope = scope
        self.limit = limit
        self.window = window_seconds
        self.max_wait = max_wait_seconds
        self._sleep = sleep
        self._lock = _LOCK
        self.waited_seconds = 0.0

    def estimate(self, tokens: int) -> int:
        """Our token count scaled by what the service has been charging for this scope."""
        with self._lock:
            return min(self.limit, max(1, round(tokens * _RATIOS.get(self.scope, 1.0))))

    def acquire(self, tokens: int) -> tuple[int, int]:
        """Wait until ``tokens`` fit in the window; return (grant id, tokens booked).

        Raises TransientError when the wait would exceed ``max_wait_seconds``.
        """
        booked = self.estimate(tokens)
        waited = 0.0
        while True:
            with self.db.unscoped() as conn:
                row = conn.execute(
                    "SELECT grant_id, wait_seconds FROM ragworker_quota_acquire(%s, %s, %s, %s)",
                    (self.scope, booked, self.limit, self.window),
                ).fetchone()
            if row is not None and row[0] is not None:
                return int(row[0]), booked
            wait = float(row[1]) if row is not None else self.window
            if waited + wait > self.max_wait:
                raise TransientError(
                    f"embedding token budget {self.limit}/{self.window:g}s still full after {waited:.1f}s")
            self._sleep(wait)
            waited += wait
            with self._lock:
                self.waited_seconds += wait

    def settle(self, grant_id: int, counted: int, reported: int) -> None:
        """Replace the booking with the tokens the service charged (``counted`` is our own count)."""
        if reported <= 0 or counted <= 0:
            return
        with self._lock:
            _RATIOS[self.scope] = 0.5 * _RATIOS.get(self.scope, 1.0) + 0.5 * (reported / counted)
        with self.db.unscoped() as conn:
            # Restart the entry's window at completion: the service counted the tokens when the
            # request arrived, after our booking, so an entry expiring at booking + window would
            # free capacity the service has not freed yet.
            conn.execute("UPDATE embedding_quota_grants SET tokens = %s, granted_at = clock_timestamp()"
                         " WHERE id = %s", (reported, grant_id))
