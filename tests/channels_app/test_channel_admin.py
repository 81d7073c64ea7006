"""Connecting a channel from the admin: per-kind credential fields (secrets encrypted and
never shown again), the webhook URL to paste at the provider, test/connect/sync buttons
against a fake provider, and the health line."""

import pytest
from django.db import connection

from channels_app.models import ChannelAccount, MessageTemplate
from tests.factories.channels import ChannelFactory
from tests.factories.inbox import InboxFactory

pytestmark = pytest.mark.django_db


def _change_url(channel):
    return f"/admin/channels_app/channelaccount/{channel.pk}/change/"


def test_adding_a_channel_then_entering_its_credentials(client, admin_user, settings):
    settings.PUBLIC_URL = "https://support.example.com"
    client.force_login(admin_user)
    inbox = InboxFactory()
    response = client.post(
        "/admin/channels_app/channelaccount/add/",
        {
            "name": "Shop bot",
            "kind": "telegram",
            "inbox": inbox.pk,
            "is_active": "on",
            "_continue": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = ChannelAccount.objects.get(name="Shop bot")

    page = client.get(_change_url(channel)).content.decode()
    assert f"https://support.example.com/webhooks/telegram/{channel.uuid}/" in page
    assert 'name="conn_bot_token"' in page and 'type="password"' in page

    response = client.post(
        _change_url(channel),
        {
            "name": "Shop bot",
            "inbox": inbox.pk,
            "is_active": "on",
            "conn_bot_token": "123:SECRET-TOKEN",
            "conn_default_region": "cn",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    channel.refresh_from_db()
    assert channel.credentials == {"bot_token": "123:SECRET-TOKEN"}
    assert channel.settings["default_region"] == "CN"
    # Encrypted at rest, and never sent back to the browser.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT credentials FROM channels_app_channelaccount WHERE id = %s", [channel.pk]
        )
        assert "SECRET-TOKEN" not in cursor.fetchone()[0]
    assert "SECRET-TOKEN" not in client.get(_change_url(channel)).content.decode()

    # An empty secret keeps the saved one; a bad region is refused with a message.
    response = client.post(
        _change_url(channel),
        {
            "name": "Shop bot",
            "inbox": inbox.pk,
            "is_active": "on",
            "conn_bot_token": "",
            "conn_default_region": "Mars",
        },
    )
    assert response.status_code == 200
    assert "is not a region code" in response.content.decode()
    channel.refresh_from_db()
    assert channel.credentials == {"bot_token": "123:SECRET-TOKEN"}


def test_test_and_connect_buttons_report_the_providers_answer(client, admin_user, fake):
    channel = ChannelFactory(kind="telegram")
    token = channel.credentials["bot_token"]
    fake.reply("POST", f"/bot{token}/getMe", 200, {"ok": True, "result": {"username": "shopbot"}})
    fake.reply("POST", f"/bot{token}/setWebhook", 200, {"ok": True, "result": True})
    client.force_login(admin_user)

    response = client.post(f"/admin/channels_app/channelaccount/{channel.pk}/test/", follow=True)
    assert "@shopbot" in response.content.decode()
    response = client.post(f"/admin/channels_app/channelaccount/{channel.pk}/connect/", follow=True)
    assert response.status_code == 200
    registered = fake.sent("POST", f"/bot{token}/setWebhook")[0]
    body = registered.json() if registered.body.startswith(b"{") else registered.form()
    assert str(channel.uuid) in body["url"]
    assert body["secret_token"] == channel.webhook_secret

    # A GET cannot trigger them.
    assert client.get(f"/admin/channels_app/channelaccount/{channel.pk}/test/").status_code == 403


def test_templates_are_synced_from_whatsapp(client, admin_user, fake):
    channel = ChannelFactory(kind="whatsapp")
    fake.reply(
        "GET",
        "/v23.0/102290129340398/message_templates",
        200,
        {
            "data": [
                {
                    "name": "order_ready",
                    "language": "en_US",
                    "status": "APPROVED",
                    "category": "UTILITY",
                    "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} is ready."}],
                }
            ]
        },
    )
    client.force_login(admin_user)
    response = client.post(
        f"/admin/channels_app/channelaccount/{channel.pk}/sync-templates/", follow=True
    )
    assert "1 template synced" in response.content.decode()
    template = MessageTemplate.objects.get(channel=channel)
    assert (template.name, template.status, template.body) == (
        "order_ready",
        "approved",
        "Hi {{1}}, order {{2}} is ready.",
    )


def test_agents_cannot_open_the_channel_tools(client, agent):
    channel = ChannelFactory(kind="telegram")
    client.force_login(agent)
    response = client.post(f"/admin/channels_app/channelaccount/{channel.pk}/test/")
    assert response.status_code in (302, 403)


def test_send_again_in_the_admin_queues_the_reply_as_the_agents_retry_does(client, admin_user):
    from channels_app.models import OutboundDelivery
    from customers.enums import IdentityKind
    from inbox.services import message_delivery_update, message_send
    from tests.factories.customers import IdentityFactory
    from tests.factories.inbox import ConversationFactory

    channel = ChannelFactory(kind="telegram")
    conversation = ConversationFactory(
        inbox=channel.inbox, identity=IdentityFactory(kind=IdentityKind.TELEGRAM, value="42")
    )
    message, _ = message_send(conversation=conversation, author=admin_user, body="Hi")
    OutboundDelivery.objects.update(state="failed", error="blocked")
    message_delivery_update(message=message, status="failed", error="blocked")

    client.force_login(admin_user)
    response = client.post(
        "/admin/channels_app/outbounddelivery/",
        {"action": "send_again", "_selected_action": [message.delivery.pk]},
        follow=True,
    )
    assert "1 failed delivery queued again" in response.content.decode()
    message.refresh_from_db()
    assert (message.delivery_status, message.delivery.state) == ("queued", "queued")
