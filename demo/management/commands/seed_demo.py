from django.core.management.base import BaseCommand

from demo.services import DEMO_PASSWORD, DEMO_USERS, demo_seed


class Command(BaseCommand):
    help = "Load demo users, a website channel, customers and conversations (idempotent)."

    def handle(self, *args, **options):
        counts = demo_seed()
        self.stdout.write(
            "Demo data ready: {users} users, {customers} customers, "
            "{conversations} conversations.".format(**counts)
        )
        for demo in DEMO_USERS:
            self.stdout.write(f"  {demo.role.value:<11} {demo.email:<26} password: {DEMO_PASSWORD}")
