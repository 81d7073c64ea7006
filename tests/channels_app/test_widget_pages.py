import pytest
from django.urls import reverse

from tests.factories.channels import WidgetConfigFactory

pytestmark = pytest.mark.django_db


def test_the_loader_is_javascript_that_any_site_may_load(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert not response.cookies


def test_the_frame_sets_no_cookie_and_limits_who_may_embed_it(client):
    config = WidgetConfigFactory(
        allowed_origins="https://shop.example.com\nhttps://www.example.com",
        greeting='</script><img src=x onerror="alert(1)">',
    )
    response = client.get(reverse("widget-frame", args=[config.channel.public_key]))
    assert response.status_code == 200
    assert not response.cookies
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://shop.example.com https://www.example.com" in policy
    assert "script-src 'self'" in policy
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    assert "<img src=x" not in html  # json_script escapes the admin's text


def test_the_frame_follows_the_browser_language_unless_the_channel_fixes_one(client):
    config = WidgetConfigFactory()
    path = reverse("widget-frame", args=[config.channel.public_key])
    assert (
        '"language": "zh-hans"'
        in client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    )
    config.language = "en"
    config.save()
    assert '"language": "en"' in client.get(path, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()


def test_an_empty_origin_list_lets_any_site_embed(client):
    config = WidgetConfigFactory(allowed_origins="")
    response = client.get(reverse("widget-frame", args=[config.channel.public_key]))
    assert "frame-ancestors *" in response["Content-Security-Policy"]


def test_admins_configure_the_widget_on_the_channel_page(client, admin_user, settings):
    settings.PUBLIC_URL = "https://support.example.com"
    config = WidgetConfigFactory()
    client.force_login(admin_user)
    page = client.get(f"/admin/channels_app/channelaccount/{config.channel.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "https://support.example.com/widget.js" in html
    assert config.channel.public_key in html
    assert 'name="widget-0-away_message"' in html
    # Business hours are the inbox's now, not the widget's.
    assert 'name="widget-0-business_hours"' not in html


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("color", "blue"),
        ("allowed_origins", "shop.example.com/path"),
        ("attachment_types", "image/png,image/svg+xml"),
    ],
)
def test_widget_settings_are_validated(field, value):
    from django.core.exceptions import ValidationError

    config = WidgetConfigFactory()
    setattr(config, field, value)
    with pytest.raises(ValidationError) as error:
        config.full_clean()
    assert field in error.value.message_dict
