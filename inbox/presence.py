"""Which agents have the console open, kept in the cache with a short lifetime: a console
socket marks its user present on connect and on every heartbeat, and presence lapses by
itself when the tab is gone (no cleanup needed after a crash)."""

from collections.abc import Iterable

from django.core.cache import cache

PRESENCE_SECONDS = 90  # the console sends a heartbeat every 30 s


def _key(user_id: int) -> str:
    return f"presence:user:{user_id}"


def agent_present(*, user_id: int) -> None:
    cache.set(_key(user_id), 1, timeout=PRESENCE_SECONDS)


def any_agent_present(*, user_ids: Iterable[int]) -> bool:
    keys = [_key(user_id) for user_id in user_ids]
    return bool(keys) and bool(cache.get_many(keys))


def agent_absent(*, user_id: int) -> None:
    """The user's last console closed: present no longer, without waiting for the lapse."""
    cache.delete(_key(user_id))
