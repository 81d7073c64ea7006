import pytest
from django.contrib.auth.models import Group

from accounts.enums import Role
from accounts.services import user_set_role
from compliance.models import AuditLogEntry
from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.django_db


def test_each_role_is_a_group_with_explicit_permissions():
    groups = {
        group.name: group for group in Group.objects.prefetch_related("permissions__content_type")
    }
    assert set(groups) >= {"admin", "supervisor", "agent"}

    def perms(role):
        return {f"{p.content_type.app_label}.{p.codename}" for p in groups[role].permissions.all()}

    assert {"accounts.add_user", "django_celery_beat.change_periodictask"} <= perms("admin")
    assert "customers.change_customer" in perms("supervisor")
    assert "compliance.view_auditlogentry" in perms("supervisor")
    assert "compliance.delete_auditlogentry" not in perms("supervisor")
    assert "accounts.add_user" not in perms("supervisor")
    assert {"inbox.view_conversation", "inbox.add_message"} <= perms("agent")
    assert "channels_app.change_channelaccount" not in perms("agent")
    assert "inbox.delete_conversation" not in perms("agent")


def test_setting_a_role_replaces_the_previous_one_and_sets_admin_site_access(
    admin_user, django_capture_on_commit_callbacks
):
    user = UserFactory(role=Role.AGENT)
    assert user.role == Role.AGENT and not user.is_staff

    with django_capture_on_commit_callbacks(execute=True):
        user_set_role(user=user, role=Role.SUPERVISOR, actor=admin_user)
    user.refresh_from_db()
    assert user.role == Role.SUPERVISOR
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["supervisor"]
    entry = AuditLogEntry.objects.filter(action="role_changed", target_id=str(user.pk)).latest(
        "created_at"
    )
    assert entry.actor == admin_user and entry.data == {"role": "supervisor"}


ADMIN_PAGES = [
    "/admin/",
    "/admin/customers/customer/",
    "/admin/inbox/conversation/",
    "/admin/channels_app/channelaccount/",
    "/admin/compliance/auditlogentry/",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_agent_is_refused_the_admin_site(client, agent, path):
    client.force_login(agent)
    response = client.get(path, follow=True)
    assert response.redirect_chain[0][0].startswith("/admin/login/")
    assert response.status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_supervisor_opens_the_back_office(client, supervisor, path):
    client.force_login(supervisor)
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/admin/accounts/user/add/",
        "/admin/auth/group/",
        "/admin/django_celery_beat/periodictask/",
        "/admin/accounts/apitoken/",
    ],
)
def test_supervisor_is_refused_what_only_admins_configure(client, supervisor, path):
    client.force_login(supervisor)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize(
    "path",
    ["/admin/accounts/user/add/", "/admin/auth/group/", "/admin/django_celery_beat/periodictask/"],
)
def test_admin_may_configure_everything(client, admin_user, path):
    client.force_login(admin_user)
    assert client.get(path).status_code == 200


def test_admin_creates_a_user_with_a_role_through_the_admin(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "new.agent@example.com",
            "display_name": "New Agent",
            "role": "agent",
            "usable_password": "true",
            "password1": "a-Long-enough-passw0rd",
            "password2": "a-Long-enough-passw0rd",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    from accounts.models import User

    created = User.objects.get(email="new.agent@example.com")
    assert created.role == Role.AGENT
    assert not created.is_staff
