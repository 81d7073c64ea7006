"""Attachment links open only for the audience they were issued to, checked on every
download: staff who may still see the conversation, the conversation's visitor (never a
private note), or a provider fetching a file of one of our replies. Anything else is 404."""

import io
import time

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import api_token_create
from channels_app.services.outbound import _files
from customers.enums import IdentityKind
from inbox.enums import MessageDirection, SenderType
from inbox.files import (
    LINK_SALT,
    AttachmentNotDeliverable,
    AttachmentUpload,
    attachment_url,
    provider_attachment_url,
    visitor_attachment_url,
)
from inbox.models import Attachment
from inbox.services import message_receive, message_send
from inbox.services.messages import message_append
from tests.channels_app.widget_client import start, url
from tests.factories.accounts import AgentFactory
from tests.factories.channels import ChannelFactory, WidgetConfigFactory
from tests.factories.customers import CustomerFactory, IdentityFactory
from tests.factories.inbox import ConversationFactory

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
PUBLIC_URL = "https://desk.example.com"


def upload(name="photo.png"):
    file = SimpleUploadedFile(name, PNG, content_type="image/png")
    return AttachmentUpload(file=file, name=name, content_type="image/png", size=len(PNG))


def signed(payload, *, age_seconds=0):
    """A link as our signer would make it, for payloads no issuing function would sign."""

    class Signer(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - age_seconds)

    return f"/files/{Signer(salt=LINK_SALT).sign_object(payload)}/"


def session_of(user):
    client = Client()
    client.force_login(user)
    return client


def served(response) -> bytes:
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


@pytest.fixture
def world():
    channel = ChannelFactory(kind="whatsapp")
    customer = CustomerFactory()
    identity = IdentityFactory(customer=customer, kind=IdentityKind.WHATSAPP, value="16505551234")
    conversation = ConversationFactory(inbox=channel.inbox, customer=customer, identity=identity)
    owner, colleague, outsider = AgentFactory(), AgentFactory(), AgentFactory()
    channel.inbox.members.add(owner, colleague)
    inbound, _ = message_append(
        conversation=conversation,
        direction=MessageDirection.INBOUND,
        sender_type=SenderType.CUSTOMER,
        body="my receipt",
        attachments=[upload("receipt.png")],
    )
    return {
        "channel": channel,
        "conversation": conversation,
        "owner": owner,
        "colleague": colleague,
        "outsider": outsider,
        "inbound": inbound.attachments.get(),
    }


def test_a_link_from_the_messages_api_opens_for_staff_who_see_the_conversation(world):
    owner = session_of(world["owner"])
    page = owner.get(f"/api/v1/conversations/{world['conversation'].uuid}/messages/")
    assert page.status_code == 200
    link = page.json()["results"][-1]["attachments"][0]["url"]
    assert link.startswith("/files/")

    response = owner.get(link)
    assert served(response) == PNG
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, max-age=3600"
    assert response["Content-Disposition"].startswith("inline")

    assert Client().get(link).status_code == 404  # nobody signed in
    assert session_of(world["outsider"]).get(link).status_code == 404


def test_a_link_issued_to_one_user_opens_for_no_other(world):
    link = attachment_url(world["inbound"], user=world["owner"])
    assert served(session_of(world["owner"]).get(link)) == PNG
    # A colleague who may see the conversation gets their own links, not this one.
    assert session_of(world["colleague"]).get(link).status_code == 404
    assert session_of(world["outsider"]).get(link).status_code == 404


def test_a_link_closes_when_its_user_loses_access_to_the_conversation(world):
    link = attachment_url(world["inbound"], user=world["colleague"])
    client = session_of(world["colleague"])
    assert client.get(link).status_code == 200
    world["channel"].inbox.members.remove(world["colleague"])
    assert client.get(link).status_code == 404
    # Asked on every download: access given back opens it again.
    world["channel"].inbox.members.add(world["colleague"])
    assert client.get(link).status_code == 200


def test_a_rest_client_opens_links_with_its_api_token(world):
    link = attachment_url(world["inbound"], user=world["owner"])
    _, key = api_token_create(user=world["owner"], name="CRM")
    _, outsider_key = api_token_create(user=world["outsider"], name="other")
    assert served(APIClient().get(link, HTTP_AUTHORIZATION=f"Token {key}")) == PNG
    assert APIClient().get(link, HTTP_AUTHORIZATION=f"Token {outsider_key}").status_code == 404
    assert APIClient().get(link, HTTP_AUTHORIZATION="Token sb_forged").status_code == 404
    assert APIClient().get(link, HTTP_AUTHORIZATION="Token").status_code == 404


def test_tampered_expired_and_foreign_tokens_are_not_found(world):
    owner = session_of(world["owner"])
    attachment = world["inbound"]
    link = attachment_url(attachment, user=world["owner"])
    token = link.removeprefix("/files/").removesuffix("/")
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    old_format = signing.TimestampSigner(salt="inbox.attachment").sign(attachment.uuid.hex)
    hex_ = attachment.uuid.hex
    for bad in (
        f"/files/{tampered}/",
        f"/files/{old_format}/",
        "/files/abc:def/",
        "/files/%00/",
        signed(["s", hex_, world["owner"].pk], age_seconds=25 * 60 * 60),  # expired
        signed(["s", "not-a-uuid", None]),
        signed(["s", hex_, str(world["owner"].pk)]),
        signed(["x", hex_, None]),
        signed({"s": hex_}),
        signed(["s", hex_]),
        signed(["s", "0" * 32, None]),  # no such attachment
    ):
        assert owner.get(bad).status_code == 404, bad
    assert owner.get(signed(["s", hex_, None], age_seconds=60)).status_code == 200


@pytest.fixture
def visitors():
    channel = WidgetConfigFactory().channel
    sent = {}
    for name in ("ann", "bob"):
        client, _ = start(channel)
        file = io.BytesIO(PNG)
        file.name = f"{name}.png"
        response = client.post(url(channel, "attachments"), {"file": file, "client_id": name})
        assert response.status_code == 201, response.content
        sent[name] = response.json()["attachments"][0]
        sent[name + "_client"] = client
    sent["channel"] = channel
    return sent


def test_a_visitor_link_opens_without_a_header_for_that_conversation_only(visitors):
    # An <img src> sends no Authorization header: the link alone opens the file.
    assert served(Client().get(visitors["ann"]["url"])) == PNG
    ann = Attachment.objects.get(uuid=visitors["ann"]["id"])
    bob = Attachment.objects.get(uuid=visitors["bob"]["id"])
    assert ann.message.conversation_id != bob.message.conversation_id
    # Ann's file under a link bound to Bob's conversation opens nothing.
    mixed = signed(["v", ann.uuid.hex, bob.message.conversation_id])
    assert Client().get(mixed).status_code == 404
    # A visitor link is not a staff link: a staff link needs a signed-in user.
    assert Client().get(attachment_url(ann)).status_code == 404


def test_a_visitor_link_never_opens_a_private_note(visitors, agent):
    ann = Attachment.objects.get(uuid=visitors["ann"]["id"])
    conversation = ann.message.conversation
    note, _ = message_append(
        conversation=conversation,
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AGENT,
        author=agent,
        body="internal scan",
        private=True,
        attachments=[upload("scan.png")],
    )
    private = note.attachments.get()
    assert Client().get(visitor_attachment_url(private)).status_code == 404
    page = visitors["ann_client"].get(url(visitors["channel"], "messages")).json()
    bodies = [message["body"] for message in page["results"]]
    assert bodies and "internal scan" not in bodies


def test_a_blocked_customers_visitor_links_close(visitors):
    ann = Attachment.objects.get(uuid=visitors["ann"]["id"])
    customer = ann.message.conversation.customer
    customer.is_blocked = True
    customer.save(update_fields=["is_blocked"])
    assert Client().get(visitors["ann"]["url"]).status_code == 404


@pytest.fixture
def reply(world):
    message_receive(conversation=world["conversation"], body="Hi", external_id="wamid.IN1")
    message, _ = message_send(
        conversation=world["conversation"],
        author=world["owner"],
        body="here it is",
        attachments=[upload("invoice.png")],
    )
    return message


def test_a_provider_fetches_a_replys_file_without_signing_in(world, reply, settings):
    settings.PUBLIC_URL = PUBLIC_URL
    (file,) = _files(reply)
    assert file.url.startswith(PUBLIC_URL + "/files/")
    assert served(Client().get(file.url.removeprefix(PUBLIC_URL))) == PNG


def test_no_provider_link_for_an_inbound_or_private_file(world, reply, agent):
    with pytest.raises(AttachmentNotDeliverable):
        provider_attachment_url(world["inbound"])
    note, _ = message_append(
        conversation=world["conversation"],
        direction=MessageDirection.OUTBOUND,
        sender_type=SenderType.AGENT,
        author=agent,
        body="note",
        private=True,
        attachments=[upload("note.png")],
    )
    private = note.attachments.get()
    with pytest.raises(AttachmentNotDeliverable):
        provider_attachment_url(private)
    # And a provider-audience token for them would not open either.
    for attachment in (world["inbound"], private):
        assert Client().get(signed(["p", attachment.uuid.hex, None])).status_code == 404


def test_a_provider_link_is_short_lived_except_for_channels_that_fetch_late(world, reply):
    hex_ = reply.attachments.get().uuid.hex
    assert Client().get(signed(["p", hex_, None], age_seconds=50 * 60)).status_code == 200
    assert Client().get(signed(["p", hex_, None], age_seconds=2 * 60 * 60)).status_code == 404
    world["channel"].kind = "line"
    world["channel"].save(update_fields=["kind"])
    assert Client().get(signed(["p", hex_, None], age_seconds=2 * 60 * 60)).status_code == 200
    assert Client().get(signed(["p", hex_, None], age_seconds=25 * 60 * 60)).status_code == 404
