import threading

import redis


class SharedConnectionPool(redis.ConnectionPool):
    """One Redis connection pool per process and URL for the cache.

    Django keeps a cache object per thread and per asyncio context, and each object makes a
    pool of its own, so under ASGI every request opened (and handshook) a new connection.
    redis-py's pools are thread-safe and start afresh in a forked child."""

    _shared: dict[tuple, "SharedConnectionPool"] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **options) -> "SharedConnectionPool":
        key = (url, tuple(sorted((name, repr(value)) for name, value in options.items())))
        with cls._lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **options)
            return pool
