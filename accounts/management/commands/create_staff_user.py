from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from accounts.enums import Role
from accounts.models import User
from accounts.services import user_create


class Command(BaseCommand):
    help = "Create a staff member with a role (admin, supervisor or agent)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--name", default="", help="Display name.")
        parser.add_argument("--password", help="Omit to be asked for it.")

    def handle(self, *args, email: str, role: str, name: str, password: str | None, **options):
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not a valid email address.") from None
        if User.objects.filter(email__iexact=email).exists():
            raise CommandError(f"A user with email {email!r} already exists.")
        if password is None:
            import getpass

            password = getpass.getpass("Password: ")
        user = user_create(email=email, password=password, role=role, display_name=name)
        self.stdout.write(f"Created {user.email} as {role}.")
