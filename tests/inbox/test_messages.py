import threading

import pytest
from django.db import connection

from inbox.enums import MessageDirection, SenderType
from inbox.models import Conversation, Message
from inbox.services import message_append
from tests.factories.inbox import ConversationFactory


def _append(conversation, body, client_id=None):
    return message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body=body,
        client_id=client_id,
    )


@pytest.mark.django_db
def test_messages_take_consecutive_numbers():
    conversation = ConversationFactory()
    numbers = [_append(conversation, f"m{i}")[0].seq for i in range(3)]
    assert numbers == [1, 2, 3]
    conversation.refresh_from_db()
    assert conversation.last_seq == 3
    assert conversation.last_message_at is not None


@pytest.mark.django_db
def test_a_retried_client_id_returns_the_stored_message():
    conversation = ConversationFactory()
    first, created = _append(conversation, "hello", client_id="c-1")
    again, created_again = _append(conversation, "hello", client_id="c-1")
    assert created and not created_again
    assert again.pk == first.pk
    assert Message.objects.filter(conversation=conversation).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_distinct_consecutive_numbers_and_no_duplicates():
    conversation = ConversationFactory()
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                # Pairs of writers share client ids, like a client retrying after a lost response.
                _append(
                    Conversation.objects.get(pk=conversation.pk),
                    f"{n}-{i}",
                    client_id=f"{n % 4}-{i}",
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = sorted(Message.objects.filter(conversation=conversation).values_list("seq", flat=True))
    assert seqs == list(range(1, 21))  # 4 distinct client ids x 5 messages, numbered without gaps
