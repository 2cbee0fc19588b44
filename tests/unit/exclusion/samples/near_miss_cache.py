import time


class TimedLRU:
    def __init__(self, max_items, lifetime=60.0):
        self._max = max_items
        self._lifetime = lifetime
        self._data = {}
        self._order = []

    def lookup(self, k):
        if k not in self._data:
            return None
        stored, born = self._data[k]
        if time.monotonic() - born > self._lifetime:
            self._data.pop(k)
            self._order.remove(k)
            return None
        self._order.remove(k)
        self._order.append(k)
        return stored

    def store(self, k, v):
        if k in self._data:
            self._order.remove(k)
        elif len(self._order) >= self._max:
            victim = self._order.pop(0)
            del self._data[victim]
        self._data[k] = (v, time.monotonic())
        self._order.append(k)

    def clear_old(self):
        limit = time.monotonic() - self._lifetime
        for k in [k for k, (_, born) in self._data.items() if born < limit]:
            self._data.pop(k)
            self._order.remove(k)
