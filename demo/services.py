"""Demo data for a newcomer's first look. Idempotent: running it again changes nothing."""

from dataclasses import dataclass
from pathlib import Path

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.enums import Role
from accounts.models import User
from accounts.services import user_create
from ai_agent.knowledge.ingest import document_ingest
from ai_agent.models import AiProfile, KnowledgeBase, KnowledgeDocument
from channels_app.enums import ChannelKind
from channels_app.models import ChannelAccount, WidgetConfig
from customers.enums import AttributeType, CaptureVia, IdentityKind, LeadStatus, Verification
from customers.models import AttributeDefinition, Customer, Identity
from customers.services import (
    IdentityClaim,
    customer_identities_add,
    customer_note_add,
    customer_resolve,
    customer_tag_add,
    customer_update,
)
from inbox.enums import MessageDirection, SenderType
from inbox.models import Conversation, Inbox, Team
from inbox.services import conversation_create, message_append

KNOWLEDGE_FILES = Path(__file__).parent / "knowledge"
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


@dataclass(frozen=True)
class DemoConversation:
    name: str
    claims: list[IdentityClaim]  # the first is where the conversation runs
    lead_status: LeadStatus
    source: dict
    messages: list[tuple[SenderType, str]]
    tags: tuple[str, ...] = ()
    attributes: dict | None = None


def _visitor(value: str) -> IdentityClaim:
    return IdentityClaim(IdentityKind.WEB_VISITOR, value, verified=True)


DEMO_CONVERSATIONS = [
    DemoConversation(
        "王芳",
        [_visitor("demo-visitor-wang"), IdentityClaim(IdentityKind.EMAIL, "wang.fang@example.cn")],
        LeadStatus.NEW,
        {
            "channel": "web",
            "page_url": "https://shop.example.com/pricing",
            "referrer": "https://www.baidu.com/",
            "utm_source": "baidu",
            "utm_medium": "cpc",
            "utm_campaign": "spring-sale",
        },
        [
            (SenderType.CUSTOMER, "你好，请问你们的产品支持微信接入吗？"),
            (SenderType.AGENT, "您好！支持的，微信公众号和企业微信客服都可以接入。"),
        ],
        tags=("wholesale",),
        attributes={"plan": "Gold", "orders": 12},
    ),
    DemoConversation(
        "John Miller",
        [_visitor("demo-visitor-john"), IdentityClaim(IdentityKind.PHONE, "+14155550123")],
        LeadStatus.QUALIFIED,
        {"channel": "web", "page_url": "https://shop.example.com/shipping", "utm_source": "google"},
        [
            (SenderType.CUSTOMER, "Hi, do you ship to Canada?"),
            (SenderType.AGENT, "Yes, we ship to Canada within 5 business days."),
            (SenderType.CUSTOMER, "Great, thanks!"),
        ],
        tags=("vip",),
        attributes={"newsletter": True},
    ),
    DemoConversation(
        "Aiko Tanaka",
        # She typed an email that belongs to a customer imported from the shop's CRM: the
        # console suggests merging them rather than merging on a typed value.
        [_visitor("demo-visitor-aiko"), IdentityClaim(IdentityKind.EMAIL, "aiko@example.jp")],
        LeadStatus.NONE,
        {"channel": "web", "page_url": "https://shop.example.com/account/invoices"},
        [
            (SenderType.CUSTOMER, "Where can I find my invoice?"),
        ],
    ),
    DemoConversation(
        "<script>alert(1)</script>",
        [_visitor("demo-visitor-hostile")],
        LeadStatus.NONE,
        {"channel": "web", "page_url": "https://shop.example.com/<b>hi</b>"},
        [
            (SenderType.CUSTOMER, "<img src=x onerror=alert(1)> is shown as text, never run"),
        ],
    ),
]

DEMO_ATTRIBUTES = [
    ("plan", "Plan", AttributeType.LIST, ["Bronze", "Silver", "Gold"]),
    ("orders", "Orders", AttributeType.NUMBER, []),
    ("signed_up", "Signed up", AttributeType.DATE, []),
    ("newsletter", "Newsletter", AttributeType.BOOLEAN, []),
    ("crm", "CRM record", AttributeType.LINK, []),
]


def _seed_customers() -> None:
    for position, (key, label, kind, options) in enumerate(DEMO_ATTRIBUTES):
        AttributeDefinition.objects.get_or_create(
            key=key,
            defaults={"label": label, "type": kind, "options": options, "position": position},
        )
    # The shop's CRM knew Aiko before she used the chat.
    customer_resolve(
        [
            IdentityClaim(
                IdentityKind.EMAIL,
                "aiko@example.jp",
                verified=True,
                verification=Verification.IMPORT,
            )
        ],
        profile={"display_name": "Aiko Tanaka (CRM)"},
    )


def _seed_ai(inbox: Inbox) -> None:
    """An AI agent answering the website first, from a small coffee-shop knowledge base
    (with no model configured, the offline engine answers)."""
    base, _ = KnowledgeBase.objects.get_or_create(
        name="Acme Coffee help",
        defaults={"description": "Delivery, returns, beans, subscriptions."},
    )
    for path in sorted(KNOWLEDGE_FILES.iterdir()):
        if base.documents.filter(filename=path.name).exists():
            continue
        document = KnowledgeDocument(knowledge_base=base, title=path.stem, filename=path.name)
        document.file.save(path.name, ContentFile(path.read_bytes()), save=False)
        document.save()
        # After commit: ingestion reads the stored file and records its own progress.
        transaction.on_commit(lambda document=document: document_ingest(document))
    profile, created = AiProfile.objects.get_or_create(
        name="Bean",
        defaults={
            "persona": "Bean, the Acme Coffee assistant: cheerful, knows coffee.",
            "cite_to_customer": True,
        },
    )
    if created:
        profile.inboxes.add(inbox)
        profile.knowledge_bases.add(base)


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

    _seed_customers()
    _seed_ai(inbox)
    agents = [users["agent1@example.com"], users["agent2@example.com"]]
    for index, demo in enumerate(DEMO_CONVERSATIONS):
        if Identity.objects.filter(kind=demo.claims[0].kind, value=demo.claims[0].value).exists():
            continue  # seeded before
        resolution = customer_resolve(
            demo.claims[:1], channel=channel, profile={"display_name": demo.name}
        )
        customer = resolution.customer
        customer_identities_add(
            customer=customer,
            identities=demo.claims[1:],
            channel=channel,
            captured_via=CaptureVia.PRECHAT,
        )
        customer_update(
            customer=customer,
            actor=None,
            data={"lead_status": demo.lead_status, "attributes": demo.attributes or {}},
        )
        for tag in demo.tags:
            customer_tag_add(customer=customer, name=tag, actor=None)
        assignee = agents[index % 2] if index < 2 else None
        conversation = conversation_create(
            inbox=inbox,
            customer=customer,
            identity=resolution.identity,
            source=demo.source,
            team=team,
            assignee=assignee,
            # Seeded history, not new arrivals: routing (and the AI) leave them as they are.
            routed_at=timezone.now(),
        )
        for sender_type, body in demo.messages:
            is_customer = sender_type == SenderType.CUSTOMER
            message_append(
                conversation=conversation,
                direction=MessageDirection.INBOUND if is_customer else MessageDirection.OUTBOUND,
                sender_type=sender_type,
                body=body,
                author=None if is_customer else assignee,
            )
        if assignee is not None:
            customer_note_add(
                customer=customer, author=assignee, body="Met at the spring trade fair."
            )
    return {
        "users": User.objects.count(),
        "customers": Customer.objects.count(),
        "conversations": Conversation.objects.count(),
    }
