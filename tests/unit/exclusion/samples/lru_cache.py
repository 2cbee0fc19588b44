"""A small least-recently-used cache with per-entry expiry."""

import time
from collections import OrderedDict


class ExpiringCache:
    """Keeps at most ``capacity`` entries, each for ``ttl`` seconds."""

    def __init__(self, capacity, ttl=60.0, clock=time.monotonic):
        self.capacity = capacity
        self.ttl = ttl
        self.clock = clock
        self.entries = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key, default=None):
        # Expired entries count as misses and are dropped on the spot.
        item = self.entries.get(key)
        if item is None:
            self.misses += 1
            return default
        value, expires_at = item
        if expires_at < self.clock():
            del self.entries[key]
            self.misses += 1
            return default
        self.entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key, value):
        if key in self.entries:
            self.entries.move_to_end(key)
        self.entries[key] = (value, self.clock() + self.ttl)
        while len(self.entries) > self.capacity:
            oldest, _ = self.entries.popitem(last=False)
            self.on_evict(oldest)

    def on_evict(self, key):
        """Called for each entry pushed out by capacity (not by expiry)."""
        pass

    def purge_expired(self):
        now = self.clock()
        stale = [key for key, (_, expires_at) in self.entries.items() if expires_at < now]
        for key in stale:
            del self.entries[key]
        return len(stale)

    def stats(self):
        total = self.hits + self.misses
        ratio = self.hits / total if total else 0.0
        return {"size": len(self.entries), "hits": self.hits, "misses": self.misses, "hit_ratio": ratio}
