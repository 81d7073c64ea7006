import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from inbox.enums import ConversationStatus, MessageDirection, SenderType
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


@pytest.mark.django_db
def test_a_message_is_numbered_and_recorded_in_two_statements(django_assert_num_queries):
    conversation = ConversationFactory()
    # The UPDATE … RETURNING that takes the number and the INSERT, inside a savepoint.
    with django_assert_num_queries(4) as captured:
        message, _ = _append(conversation, "hello")
    statements = [query["sql"].split()[0] for query in captured.captured_queries]
    assert statements == ["SAVEPOINT", "UPDATE", "INSERT", "RELEASE"]
    assert conversation.last_seq == message.seq == 1


@pytest.mark.django_db
def test_a_customer_message_reopens_and_counts_and_an_agent_reply_reads():
    conversation = ConversationFactory(status=ConversationStatus.RESOLVED)
    early = timezone.now() - datetime.timedelta(hours=1)
    _append(conversation, "first")
    newest_inbound = conversation.last_inbound_at
    # A late-delivered message stamped earlier counts as unread but keeps the newest time.
    message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body="sent an hour ago",
        sent_at=early,
    )
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.unread_count == 2
    assert conversation.last_inbound_at == newest_inbound
    assert conversation.last_message_preview == "sent an hour ago"

    reply, _ = message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AGENT,
        body="on it",
    )
    conversation.refresh_from_db()
    assert (conversation.unread_count, conversation.agent_read_seq) == (0, reply.seq)


@pytest.mark.django_db
def test_a_retry_leaves_the_callers_conversation_as_it_was():
    conversation = ConversationFactory()
    first, _ = _append(conversation, "hello", client_id="c-1")
    stale = Conversation.objects.get(pk=conversation.pk)
    _append(conversation, "next")
    again, created = _append(stale, "hello", client_id="c-1")
    assert (again.pk, created) == (first.pk, False)
    assert stale.last_seq == 1  # the rolled-back UPDATE's number never reached it
    conversation.refresh_from_db()
    assert conversation.last_seq == 2


@pytest.mark.django_db
def test_a_private_note_takes_a_number_and_nothing_else():
    conversation = ConversationFactory()
    _append(conversation, "customer asks")
    before = Conversation.objects.get(pk=conversation.pk)
    note, _ = message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AGENT,
        body="internal: check the refund policy",
        private=True,
    )
    conversation.refresh_from_db()
    assert (note.seq, conversation.last_seq) == (2, 2)
    assert conversation.unread_count == 1  # an agent's note is not a reply: still unread
    assert conversation.last_message_preview == "customer asks"
    assert conversation.last_message_at == before.last_message_at
