"""A short-lived, per-process memory of tokens already checked.

Authenticating a token costs a database round trip on every request; for a device posting
batches many times a second that was most of the request (benchmarks/README.md). A verified
token is remembered for `ttl` seconds, keyed by the hash of the token, never the token itself.
Revocation in this process clears the memory at once; a revocation made by another process
(another worker, the CLI) takes effect within `ttl`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from thingport.core.accounts.passwords import hash_secret
from thingport.core.accounts.schemas import Principal

MAX_ENTRIES = 10_000


class TokenCache:
    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self.clock = clock  # seconds; tests move a clock of their own
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, token: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        key = hash_secret(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] < self.clock():
            del self._entries[key]
            return None
        return entry[0]

    def put(self, token: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # crude but bounded; a miss only costs one query
        self._entries[hash_secret(token)] = (principal, self.clock() + self.ttl)

    def forget_user(self, user_id: int) -> None:
        for key in [k for k, (p, _) in self._entries.items() if p.user_id == user_id]:
            del self._entries[key]
