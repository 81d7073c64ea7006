import factory

from ai_agent.models import AgentTool, AiProfile, KnowledgeBase, KnowledgeDocument


class KnowledgeBaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnowledgeBase

    name = factory.Sequence(lambda n: f"Knowledge {n}")


class UrlDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnowledgeDocument

    knowledge_base = factory.SubFactory(KnowledgeBaseFactory)
    url = factory.Sequence(lambda n: f"https://docs.example.com/page-{n}")


class AiProfileFactory(factory.django.DjangoModelFactory):
    """An offline profile (no model) serving the given inboxes always."""

    class Meta:
        model = AiProfile
        skip_postgeneration_save = True

    name = "Ava"

    @factory.post_generation
    def inboxes(self, create, extracted, **kwargs):
        if create and extracted:
            self.inboxes.set(extracted)

    @factory.post_generation
    def knowledge_bases(self, create, extracted, **kwargs):
        if create and extracted:
            self.knowledge_bases.set(extracted)

    @factory.post_generation
    def tools(self, create, extracted, **kwargs):
        if create and extracted:
            self.tools.set(extracted)


class AgentToolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentTool

    name = factory.Sequence(lambda n: f"tool_{n}")
    description = "Looks up an order's tracking status by its order number."
    url = "http://127.0.0.1:9/track/{order_number}"
    input_schema = {
        "type": "object",
        "properties": {"order_number": {"type": "string"}},
        "required": ["order_number"],
    }
