import factory

from accounts.enums import Role
from accounts.models import User
from accounts.services import user_set_role

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    display_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        obj.save()
        if create and extracted:
            user_set_role(user=obj, role=Role(extracted))


def AgentFactory(**kwargs) -> User:
    return UserFactory(role=Role.AGENT, **kwargs)


def SupervisorFactory(**kwargs) -> User:
    return UserFactory(role=Role.SUPERVISOR, **kwargs)


def AdminFactory(**kwargs) -> User:
    return UserFactory(role=Role.ADMIN, **kwargs)
