"""Demo data for a newcomer's first look. Idempotent: running it again changes nothing."""

from dataclasses import dataclass

from django.db import transaction

from accounts.enums import Role
from accounts.models import User
from accounts.services import user_create
from channels_app.enums import ChannelKind
from channels_app.models import ChannelAccount, WidgetConfig
from customers.enums import IdentityKind, LeadStatus
from customers.models import Customer, Identity
from inbox.enums import MessageDirection, SenderType
from inbox.models import Conversation, Inbox, Team
from inbox.services import conversation_create, message_append

DEMO_PASSWORD = "switchboard-demo"  # noqa: S105 (documented demo login)
DEMO_WIDGET_KEY = "demo-website"


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role


DEMO_USERS = [
    DemoUser("admin@example.com", "Ada Admin", Role.ADMIN),
    DemoUser("supervisor@example.com", "Sam Supervisor", Role.SUPERVISOR),
    DemoUser("agent1@example.com", "Li Wei", Role.AGENT),
    DemoUser("agent2@example.com", "Maria Garcia", Role.AGENT),
]

DEMO_CONVERSATIONS = [
    (
        "王芳",
        [(IdentityKind.EMAIL, "wang.fang@example.cn")],
        LeadStatus.NEW,
        [
            (SenderType.CUSTOMER, "你好，请问你们的产品支持微信接入吗？"),
            (SenderType.AGENT, "您好！支持的，微信公众号和企业微信客服都可以接入。"),
        ],
    ),
    (
        "John Miller",
        [(IdentityKind.PHONE, "+14155550123")],
        LeadStatus.QUALIFIED,
        [
            (SenderType.CUSTOMER, "Hi, do you ship to Canada?"),
            (SenderType.AGENT, "Yes, we ship to Canada within 5 business days."),
            (SenderType.CUSTOMER, "Great, thanks!"),
        ],
    ),
    (
        "Aiko Tanaka",
        [(IdentityKind.WEB_VISITOR, "demo-visitor-aiko")],
        LeadStatus.NONE,
        [
            (SenderType.CUSTOMER, "Where can I find my invoice?"),
        ],
    ),
    (
        "<script>alert(1)</script>",
        [(IdentityKind.WEB_VISITOR, "demo-visitor-hostile")],
        LeadStatus.NONE,
        [
            (SenderType.CUSTOMER, "<img src=x onerror=alert(1)> is shown as text, never run"),
        ],
    ),
]


@transaction.atomic
def demo_seed() -> dict[str, int]:
    users = {}
    for demo in DEMO_USERS:
        user = User.objects.filter(email=demo.email).first()
        if user is None:
            user = user_create(
                email=demo.email, password=DEMO_PASSWORD, role=demo.role, display_name=demo.name
            )
        users[demo.email] = user

    team, _ = Team.objects.get_or_create(name="Support")
    team.members.add(users["agent1@example.com"], users["agent2@example.com"])
    inbox, _ = Inbox.objects.get_or_create(name="Website")
    inbox.teams.add(team)
    channel, _ = ChannelAccount.objects.get_or_create(
        inbox=inbox,
        defaults={"kind": ChannelKind.WEB, "name": "Website chat", "public_key": DEMO_WIDGET_KEY},
    )
    WidgetConfig.objects.get_or_create(
        channel=channel,
        defaults={
            "title": "Acme Coffee",
            "greeting": "Hi! Ask us anything about our coffee, orders or delivery.",
            "away_message": "We are away right now. Leave a message and we will reply here.",
        },
    )

    agents = [users["agent1@example.com"], users["agent2@example.com"]]
    for index, (name, identities, lead_status, messages) in enumerate(DEMO_CONVERSATIONS):
        kind, value = identities[0]
        identity = (
            Identity.objects.filter(kind=kind, value=value).select_related("customer").first()
        )
        if identity is not None:
            continue  # seeded before
        customer = Customer.objects.create(display_name=name, lead_status=lead_status)
        for kind, value in identities:
            Identity.objects.create(customer=customer, kind=kind, value=value, verified=False)
        assignee = agents[index % 2] if index < 2 else None
        conversation = conversation_create(
            inbox=inbox, customer=customer, team=team, assignee=assignee
        )
        for sender_type, body in messages:
            is_customer = sender_type == SenderType.CUSTOMER
            message_append(
                conversation=conversation,
                direction=MessageDirection.INBOUND if is_customer else MessageDirection.OUTBOUND,
                sender_type=sender_type,
                body=body,
                author=None if is_customer else assignee,
            )
    return {
        "users": User.objects.count(),
        "customers": Customer.objects.count(),
        "conversations": Conversation.objects.count(),
    }
