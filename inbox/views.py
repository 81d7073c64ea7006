from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie

from customers.enums import IdentityKind, LeadStatus

from .api import AGENT_ATTACHMENT_MAX_BYTES
from .enums import ConversationStatus
from .files import INLINE_TYPES, attachment_uuid_from_token
from .models import Attachment
from .serializers import MAX_BODY_LENGTH


def console_strings() -> dict[str, str]:
    """What the console's script says, in the request's language. `%(name)s` style
    placeholders are filled in by the script."""
    return {
        "all": _("All"),
        "mine": _("Mine"),
        "unassigned": _("Unassigned"),
        "unread_count": _("%(count)s unread"),
        "empty_mine": _("Nothing is assigned to you right now."),
        "empty_unassigned": _("No unassigned conversations."),
        "empty_all": _("No conversations you can see yet."),
        "list_error": _("The conversations could not be loaded."),
        "retry": _("Retry"),
        "discard": _("Discard"),
        "loading": _("Loading…"),
        "load_older": _("Load older messages"),
        "start_of_conversation": _("Start of the conversation"),
        "conversation_error": _("This conversation could not be loaded."),
        "sending": _("Sending…"),
        "sent": _("Sent"),
        "read": _("Read"),
        "failed": _("Not sent"),
        "failed_reason": _("Not sent: %(reason)s"),
        "too_long": _("This message is too long (at most %(max)s characters)."),
        "you": _("You"),
        "customer": _("Customer"),
        "ai_agent": _("AI agent"),
        "system": _("System"),
        "assigned_to": _("Assigned to %(name)s"),
        "assigned_to_you": _("Assigned to you"),
        "unassigned_label": _("Unassigned"),
        "ai_handling": _("The AI agent is answering"),
        "typing": _("%(name)s is typing…"),
        "someone_typing": _("Typing…"),
        "colleague_typing": _("%(name)s (colleague) is typing…"),
        "new_messages": _("New messages"),
        "attachment": _("Attachment"),
        "reconnecting": _("Reconnecting…"),
        "offline": _("You are offline. Reconnecting when the network is back…"),
        "notify_enable": _("Enable notifications"),
        "notify_on": _("Notifications on"),
        "notify_blocked": _("Notifications are blocked in the browser settings"),
        "sound_on": _("Sound on"),
        "sound_off": _("Sound off"),
        "new_conversation": _("New conversation"),
        "new_message_from": _("New message from %(name)s"),
        "now": _("now"),
        "yesterday": _("Yesterday"),
        "contacts": _("Contacts"),
        "verified": _("verified"),
        "not_verified": _("Reported by the website, not verified"),
        "website_user": _("Signed-in user on the website"),
        "prechat": _("Pre-chat form"),
        "latest_page": _("Latest page"),
        "visit": _("Where they came from"),
        "page": _("Page"),
        "page_title": _("Page title"),
        "referrer": _("Referrer"),
        "channel": _("Channel"),
        "device": _("Device"),
        "language": _("Language"),
        "time_zone": _("Time zone"),
        "local_time": _("Local time %(time)s"),
        "country": _("Country"),
        "lead_status": _("Lead status"),
        "first_seen": _("First seen"),
        "last_seen": _("Last seen"),
        "user_id": _("User id"),
        "name": _("Name"),
        "email": _("Email"),
        "phone": _("Phone"),
        "on": _("%(browser)s on %(os)s"),
        "unknown_device": _("Unknown device"),
        "nothing_known": _("Nothing known yet."),
        "file_too_large": _("Files can be at most %(max)s MB."),
        "signed_out": _("You have been signed out. Signing in again…"),
        "not_allowed": _("Your account cannot open the console. Ask an administrator."),
        "channel_web": _("Website chat"),
    }


@login_required
@ensure_csrf_cookie
def console_home(request):
    """The agent console: a shell that `static/console/console.js` fills from the REST
    API and keeps live over the console socket."""
    user = request.user
    role = user.role
    config = {
        "user": {"id": user.pk, "name": str(user), "role": role.value if role else None},
        "timezone": timezone.get_current_timezone_name(),
        "urls": {
            "conversations": reverse("api-conversation-list"),
            "socket": "/ws/console/",
            "login": reverse("account_login"),
            "me": reverse("api-me"),
        },
        "max_body": MAX_BODY_LENGTH,
        "max_file_bytes": AGENT_ATTACHMENT_MAX_BYTES,
        "labels": {
            "status": {value: str(label) for value, label in ConversationStatus.choices},
            "identity": {value: str(label) for value, label in IdentityKind.choices},
            "lead": {value: str(label) for value, label in LeadStatus.choices},
        },
        "strings": console_strings(),
    }
    return render(request, "inbox/console_home.html", {"role": role, "console_config": config})


def attachment_download(request, token: str):
    """Serves an attachment to whoever holds its signed link (issued with the message)."""
    attachment_uuid = attachment_uuid_from_token(token)
    attachment = (
        Attachment.objects.filter(uuid=attachment_uuid).first() if attachment_uuid else None
    )
    if attachment is None:
        raise Http404
    inline = attachment.content_type in INLINE_TYPES
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type,
        as_attachment=not inline,
        filename=attachment.name,
    )
    # Nothing in a served file may run as a page of ours.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
