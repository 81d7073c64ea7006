import threading

from django.core.cache import caches


def _pool_in_new_thread():
    pools = []
    thread = threading.Thread(target=lambda: pools.append(_pool()))
    thread.start()
    thread.join()
    return pools[0]


def _pool():
    return caches["default"]._cache._get_connection_pool(write=True)


def test_every_thread_uses_one_redis_connection_pool():
    # Django makes a cache object per thread (and per ASGI request context); each used to
    # open connections of its own.
    assert caches["default"] is not _cache_in_new_thread()
    assert _pool_in_new_thread() is _pool()


def _cache_in_new_thread():
    found = []
    thread = threading.Thread(target=lambda: found.append(caches["default"]))
    thread.start()
    thread.join()
    return found[0]
