from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print its key (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Email of the user the token acts as.")
        parser.add_argument("--name", required=True, help="What uses this token.")

    def handle(self, *args, user: str, name: str, **options):
        try:
            owner = User.objects.get(email__iexact=user.strip(), is_active=True)
        except User.DoesNotExist:
            raise CommandError(f"No active user with email {user!r}.") from None
        _token, key = api_token_create(user=owner, name=name)
        self.stdout.write(key)
