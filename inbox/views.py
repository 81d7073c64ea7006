from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import ApiTokenAuthentication
from customers.enums import CONTACT_KINDS, CaptureVia, IdentityKind, LeadStatus, Verification

from .api import AGENT_ATTACHMENT_MAX_BYTES
from .console_text import tool_strings
from .enums import Availability, ConversationStatus, Priority
from .files import INLINE_TYPES, attachment_for_link
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
        "snooze_hour": _("For an hour"),
        "snooze_hours": _("For %(count)s hours"),
        "snooze_tomorrow": _("Tomorrow at 9:00"),
        "snooze_next_week": _("Next Monday at 9:00"),
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
        # The customer card
        "add": _("Add"),
        "add_note": _("Add note"),
        "add_tag": _("Add a tag"),
        "attribution": _("Source and attribution"),
        "automatically": _("Automatically"),
        "blocked": _("Blocked"),
        "by": _("By %(name)s"),
        "cancel": _("Cancel"),
        "card_error": _("The customer card could not be loaded."),
        "card_part_error": _("This could not be loaded."),
        "change_failed": _("The change could not be saved. Try again."),
        "confirm_merge": _("Confirm"),
        "conversations": _("Conversations"),
        "delete": _("Delete"),
        "delete_note_title": _("Delete this note?"),
        "details": _("Details"),
        "dismiss": _("Dismiss"),
        "display_name": _("Display name"),
        "edit_field": _("Edit %(field)s"),
        "edit_name": _("Edit the name"),
        "evidence": _("%(identity)s %(reason)s"),
        "evidence_typed": _("typed in, not verified"),
        "evidence_typed_on": _("given on %(channel)s, not verified"),
        "evidence_typed_web": _("typed in the website chat"),
        "evidence_typed_via": _("given in: %(via)s, not verified"),
        "evidence_verified_match": _("verified on %(channel)s for both"),
        "evidence_verified_over_typed": _("verified on %(channel)s; the other customer typed it"),
        "first_and_last_touch": _("First and latest touch"),
        "first_touch": _("First touch"),
        "last_touch": _("Latest touch"),
        "history": _("History"),
        "identity_kind": _("Kind of contact"),
        "identity_value": _("Phone, email or id"),
        "lead_captured": _("Became a lead"),
        "load_more": _("Load more"),
        "maybe_same": _("Possibly the same person as %(name)s"),
        "merge": _("Merge"),
        "merge_into_explain": _(
            "%(other)s will be merged into %(customer)s: their contacts, conversations, notes "
            "and tags move to %(customer)s, and %(other)s is no longer a separate customer."
        ),
        "merge_record": _("%(merged)s merged into %(survivor)s"),
        "merge_search": _("Search by name, phone or email"),
        "merge_suggestion_explain": _(
            "%(a)s and %(b)s will become one customer: their contacts, conversations, notes "
            "and tags are combined. The customer who came first is kept."
        ),
        "merge_suggestions": _("Possible duplicates"),
        "merge_title": _("Merge %(a)s and %(b)s?"),
        "merge_undo_note": _("You can undo the merge later from the merge history."),
        "merge_with": _("Merge with…"),
        "merged_flash": _("Merged with %(name)s."),
        "merges": _("Merges"),
        "no": _("No"),
        "no_customers_found": _("No customers found."),
        "no_history": _("No changes recorded yet."),
        "no_messages": _("No messages yet"),
        "note_placeholder": _("Write a note for your colleagues…"),
        "notes": _("Notes"),
        "remove": _("Remove"),
        "remove_identity": _("Remove %(identity)s"),
        "remove_identity_explain": _("%(identity)s will no longer belong to this customer."),
        "remove_identity_title": _("Remove this contact?"),
        "remove_tag": _("Remove tag %(tag)s"),
        "replaced": _("replaced %(value)s"),
        "save": _("Save"),
        "split_flash": _("The merge was undone: %(name)s is a separate customer again."),
        "tags": _("Tags"),
        "this_conversation": _("This conversation"),
        "undo_merge": _("Undo merge"),
        "undo_merge_explain": _(
            "%(merged)s becomes a separate customer again and takes back the contacts, "
            "conversations and notes the merge moved to %(survivor)s. They will not be "
            "suggested as the same person again."
        ),
        "undo_merge_title": _("Undo this merge?"),
        "undone_at": _("Undone %(time)s"),
        "verified_by": _("Verified: %(how)s"),
        "via": _("Via"),
        "when": _("When"),
        "yes": _("Yes"),
        # What channels report about an ad or a referral, by key.
        "touch_ad_id": _("Ad"),
        "touch_ad_title": _("Ad title"),
        "touch_adset_id": _("Ad set"),
        "touch_campaign_id": _("Campaign"),
        "touch_ctwa_clid": _("Click-to-WhatsApp ad"),
        "touch_fbclid": _("Facebook click"),
        "touch_gclid": _("Google Ads click"),
        "touch_ref": _("Referral"),
        "touch_source": _("Source"),
        "touch_source_type": _("Source type"),
        "touch_source_url": _("Ad link"),
        # Messaging channels: delivery of a reply
        "delivery_queued": _("Waiting to be sent"),
        "delivered": _("Delivered"),
        "not_delivered": _("Not delivered"),
        "not_delivered_reason": _("Not delivered: %(reason)s"),
        "edit_and_retry": _("Edit and retry"),
        "send_again": _("Send again"),
        "send_failed": _("It could not be sent. Check the connection and try again."),
        # Messaging channels: what a reply may be now
        "window_closes": _("Reply window closes %(when)s"),
        "free_text_blocked": _("A free-form reply cannot be sent here now."),
        "use_template": _("Send a template"),
        "templates": _("Templates"),
        "choose_template": _("Choose an approved template"),
        "other_template": _("Choose another"),
        "close_templates": _("Close the templates"),
        "template_value": _("Value %(n)s"),
        "template_preview": _("Preview"),
        "send_template": _("Send template"),
        "send_with_tag": _("Send with the human-agent tag"),
        "tag_allowed_until": _("Allowed until %(time)s"),
        "reply_mode": _("Answer the comment"),
        "reply_public": _("In public"),
        "reply_private": _("As a private message"),
        "char_count": _("%(count)s / %(max)s"),
        # Messaging channels: what a message carries beside its text
        "location": _("Location"),
        "open_map": _("Open in OpenStreetMap"),
        "contact_card": _("Contact card"),
        "pressed": _("Pressed: %(title)s"),
        "from_ad": _("From ad: %(headline)s"),
        "from_referral": _("Came from: %(source)s"),
        "comment_on_post": _("Comment on post"),
        "sticker": _("Sticker"),
        "in_reply_to": _("In reply to: %(text)s"),
        "in_reply_to_earlier": _("In reply to an earlier message"),
        "show_quoted": _("Show quoted text"),
        "show_formatting": _("Show original formatting"),
        "email_formatting": _("The email with its original formatting"),
        "auto_reply": _("Auto-reply"),
        "reacted": _("%(name)s reacted %(emoji)s"),
        "edited": _("edited"),
        "earlier_versions": _("Earlier versions:"),
        "earlier_version": _("%(time)s: %(text)s"),
        "deleted_by_customer": _("deleted by the customer"),
        "file_refused": _("File not accepted: %(name)s — %(reason)s"),
        "template_sent": _("Template: %(name)s"),
        "sent_with_tag": _("Sent with the human-agent tag"),
        "private_reply": _("Private reply"),
        "private_note": _("Note"),
        "files_not_in_notes": _("Files go to the customer: switch to Reply to send one."),
        "conversation_moved": _("That conversation was moved out of your view."),
        **tool_strings(),
    }


def channel_labels() -> dict[str, str]:
    """Channel kinds by name; `inbox` does not import `channels_app` (it sits above)."""
    try:
        field = apps.get_model("channels_app", "ChannelAccount")._meta.get_field("kind")
    except LookupError:
        return {}
    return {str(value): str(label) for value, label in field.choices}


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
            "api": reverse("api-me").removesuffix("me/"),
        },
        # The kinds an agent may add to a customer by hand: ways to reach them.
        "identity_kinds_addable": [kind for kind in IdentityKind.values if kind in CONTACT_KINDS],
        "max_body": MAX_BODY_LENGTH,
        "max_file_bytes": AGENT_ATTACHMENT_MAX_BYTES,
        "labels": {
            "status": {value: str(label) for value, label in ConversationStatus.choices},
            "priority": {str(value): str(label) for value, label in Priority.choices},
            "availability": {value: str(label) for value, label in Availability.choices},
            "identity": {value: str(label) for value, label in IdentityKind.choices},
            "lead": {value: str(label) for value, label in LeadStatus.choices},
            "via": {value: str(label) for value, label in CaptureVia.choices},
            "verification": {value: str(label) for value, label in Verification.choices},
            "channel": channel_labels(),
        },
        "strings": console_strings(),
    }
    return render(request, "inbox/console_home.html", {"role": role, "console_config": config})


def attachment_download(request, token: str):
    """Serves an attachment to the audience its link was issued for (`inbox.files`):
    staff signed in by the console's session or an API token, the conversation's visitor,
    or a provider fetching a reply's file. Anything else is a 404."""
    attachment = attachment_for_link(token=token, user=_api_token_user(request) or request.user)
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


def _api_token_user(request):
    """The user of an `Authorization: Token` header (REST clients; browsers send the
    session cookie instead). None without one or for a bad one, never an error page."""
    try:
        found = ApiTokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None
