from django.core.cache import cache as default_cache
from rest_framework.throttling import SimpleRateThrottle


class _CacheBatch:
    """Stands in for the cache while one request's throttles run: every counter is read in
    one round trip before they run, and every update written in one after."""

    def __init__(self, keys: list[str]):
        self.values = default_cache.get_many(keys) if keys else {}
        self.writes: dict[int, dict[str, object]] = {}

    def get(self, key, default=None):
        return self.values.get(key, default)

    def set(self, key, value, timeout):
        self.writes.setdefault(timeout, {})[key] = value

    def flush(self) -> None:
        for timeout, values in self.writes.items():
            default_cache.set_many(values, timeout)


class BatchedThrottlesMixin:
    """DRF's check_throttles with the rate throttles' cache reads and writes batched: a view
    with three throttles makes two Redis round trips instead of six."""

    def check_throttles(self, request):
        throttles = self.get_throttles()
        rated = [t for t in throttles if isinstance(t, SimpleRateThrottle) and t.rate]
        keys = [key for t in rated if (key := t.get_cache_key(request, self))]
        batch = _CacheBatch(keys)
        for throttle in rated:
            throttle.cache = batch
        durations = []
        try:
            for throttle in throttles:
                if not throttle.allow_request(request, self):
                    durations.append(throttle.wait())
        finally:
            batch.flush()
        if durations:
            known = [duration for duration in durations if duration is not None]
            self.throttled(request, max(known, default=None))
