import factory

from customers.enums import IdentityKind
from customers.models import Customer, Identity


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    display_name = factory.Faker("name")


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity

    customer = factory.SubFactory(CustomerFactory)
    kind = IdentityKind.EMAIL
    value = factory.Sequence(lambda n: f"customer{n}@example.com")


# Models named as "app.Model" so that this block needs no new imports above.
class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.Tag"

    name = factory.Sequence(lambda n: f"Tag {n}")


class AttributeDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.AttributeDefinition"

    key = factory.Sequence(lambda n: f"attribute_{n}")
    label = factory.Sequence(lambda n: f"Attribute {n}")
    type = "text"


class CustomerNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.CustomerNote"

    customer = factory.SubFactory(CustomerFactory)
    body = factory.Faker("sentence")
