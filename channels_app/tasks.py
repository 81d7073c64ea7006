"""Thin tasks: each takes ids and calls a service; all are safe to run twice."""

from celery import shared_task

from .services import connections, inbound, outbound


@shared_task
def inbound_process_event(event_id: int) -> None:
    inbound.event_process(event_id)


@shared_task
def inbound_sweep() -> int:
    """Queues again the events a crashed worker or a lost task left unprocessed."""
    due = inbound.events_due()
    for event_id in due:
        inbound_process_event.delay(event_id)
    return len(due)


@shared_task(
    soft_time_limit=outbound.DELIVER_SOFT_TIME_LIMIT, time_limit=outbound.DELIVER_TIME_LIMIT
)
def outbound_deliver(delivery_id: int) -> None:
    outbound.delivery_attempt(delivery_id)


@shared_task
def outbound_sweep() -> int:
    """Queues again the deliveries a crashed worker or a lost task left behind."""
    due = outbound.deliveries_due()
    for delivery_id in due:
        outbound_deliver.delay(delivery_id)
    return len(due)


@shared_task
def inbound_email_poll_all() -> int:
    """One task per mailbox, so that mailboxes are read in parallel by the workers."""
    channel_ids = connections.mailboxes_to_poll()
    for channel_id in channel_ids:
        inbound_email_poll.delay(channel_id)
    return len(channel_ids)


@shared_task
def inbound_email_poll(channel_id: int) -> int:
    return connections.mailbox_poll_once(channel_id)
