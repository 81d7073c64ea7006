"""Routing, the queue and availability: thin tasks, each safe to run twice."""

from celery import shared_task


@shared_task
def routing_route_conversation(conversation_id: int) -> None:
    """Routes a conversation on its first customer message (once: a routed one is left)."""
    from ..models import Conversation
    from ..services.routing import conversation_route

    conversation = Conversation.objects.filter(pk=conversation_id, routed_at__isnull=True).first()
    if conversation is not None:
        conversation_route(conversation=conversation)


@shared_task
def routing_queue_drain() -> int:
    """Periodic: assigns waiting conversations wherever agents have room (what an event
    missed, e.g. a capacity raised in the admin)."""
    from ..services.assignment import queue_drain

    return queue_drain()


@shared_task
def availability_offline_check(user_id: int) -> bool:
    """After the grace period that follows an agent's last console tab closing: offline,
    unless a console came back."""
    from ..services.availability import agent_offline_if_absent

    return agent_offline_if_absent(user_id=user_id)


@shared_task
def availability_lapsed_sweep() -> int:
    """Periodic: offline for agents whose consoles stopped without closing (a crash)."""
    from ..services.availability import agents_lapsed_sweep

    return agents_lapsed_sweep()
