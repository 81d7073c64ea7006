import asyncio
import datetime

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from customers.services import customer_merge, customer_merge_undo
from inbox import realtime
from tests.factories.customers import CustomerFactory
from tests.factories.inbox import ConversationFactory

pytestmark = pytest.mark.django_db


def test_consoles_hear_when_a_merge_and_its_undo_move_a_conversation(
    django_capture_on_commit_callbacks,
):
    # Seen more recently, so its name wins the merge.
    kept = CustomerFactory(display_name="Kept", last_seen_at=timezone.now())
    old = CustomerFactory(
        display_name="Moved away", last_seen_at=timezone.now() - datetime.timedelta(days=1)
    )
    moved = ConversationFactory(customer=old)

    def merge_then_undo():
        with django_capture_on_commit_callbacks(execute=True):
            record = customer_merge(survivor=kept, merged=moved.customer)
        with django_capture_on_commit_callbacks(execute=True):
            customer_merge_undo(record=record, actor=None)

    async def listen() -> list[dict]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(realtime.STAFF_GROUP, channel)
        await sync_to_async(merge_then_undo)()
        events = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(2)]
        await layer.group_discard(realtime.STAFF_GROUP, channel)
        return [e["event"] for e in events]

    after_merge, after_undo = async_to_sync(listen)()
    assert after_merge["type"] == after_undo["type"] == "conversation.updated"
    assert after_merge["conversation"]["id"] == str(moved.uuid)
    assert after_merge["conversation"]["customer"]["name"] == "Kept"
    assert after_undo["conversation"]["customer"]["name"] == "Moved away"
