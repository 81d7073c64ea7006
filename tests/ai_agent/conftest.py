import pytest
from celery import current_app
from django.core.files.base import ContentFile

from ai_agent.knowledge.ingest import document_ingest
from ai_agent.models import KnowledgeDocument
from inbox.enums import MessageDirection, SenderType
from inbox.models import Conversation
from inbox.services.messages import message_append
from tests.factories.ai import AiProfileFactory, KnowledgeBaseFactory
from tests.factories.channels import WebChannelFactory
from tests.factories.customers import IdentityFactory

FAQ_CSV = """question,answer
How long does shipping take?,Orders ship within 2 business days and arrive in 3 to 5 days.
What is your return policy?,You can return any unused item within 30 days for a full refund.
运费是多少？,订单满99元包邮，不满99元收取10元运费。
怎么申请退货？,收到商品30天内，在订单页面点击“申请退货”即可，我们会上门取件。
"""

MANUAL_MD = """# Warranty

Every Acme kettle has a two-year warranty covering the heating element and the switch.
Damage from dropping the kettle is not covered.

# 保修

所有Acme电水壶享受两年保修，涵盖加热元件和开关。摔落造成的损坏不在保修范围内。
"""


def add_document(base, name: str, text: str) -> KnowledgeDocument:
    document = KnowledgeDocument(knowledge_base=base, title=name, filename=name)
    document.file.save(name, ContentFile(text.encode()), save=False)
    document.save()
    return document_ingest(document)


@pytest.fixture
def knowledge(db):
    base = KnowledgeBaseFactory(name="Acme help")
    add_document(base, "faq.csv", FAQ_CSV)
    add_document(base, "manual.md", MANUAL_MD)
    return base


@pytest.fixture
def eager_tasks():
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = False


@pytest.fixture
def web_inbox(db):
    return WebChannelFactory().inbox


@pytest.fixture
def profile(web_inbox, knowledge):
    return AiProfileFactory(inboxes=[web_inbox], knowledge_bases=[knowledge])


@pytest.fixture
def chat(web_inbox, eager_tasks, django_capture_on_commit_callbacks):
    """A website visitor writing: `chat.say("...")` stores their message and runs what
    follows it (routing, the AI's turn) as the worker would."""

    class Chat:
        def __init__(self):
            identity = IdentityFactory(kind="web_visitor")
            self.conversation = Conversation.objects.create(
                inbox=web_inbox, customer=identity.customer, identity=identity
            )

        def say(self, body: str, **content):
            with django_capture_on_commit_callbacks(execute=True):
                message_append(
                    conversation=self.conversation,
                    direction=MessageDirection.INBOUND,
                    sender_type=SenderType.CUSTOMER,
                    body=body,
                    content=content or None,
                )
            self.conversation.refresh_from_db()

        def replies(self):
            return list(
                self.conversation.messages.filter(
                    direction=MessageDirection.OUTBOUND, private=False
                ).order_by("seq")
            )

        def notes(self):
            return list(self.conversation.messages.filter(private=True).order_by("seq"))

    return Chat()
