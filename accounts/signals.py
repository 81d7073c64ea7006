"""Facts about accounts, sent on commit; receivers elsewhere (audit log) listen."""

from django.dispatch import Signal

# kwargs: user, role, actor
user_role_changed = Signal()
# kwargs: token, actor
api_token_created = Signal()
# kwargs: token, actor
api_token_revoked = Signal()
