"""The widget's words, translated on the server into the language the frame is rendered
in, so the widget follows the same catalog as the rest of the product."""

from django.utils.translation import gettext as _


def widget_strings() -> dict[str, str]:
    return {
        "open": _("Open chat"),
        "close": _("Close chat"),
        "default_title": _("Chat with us"),
        "placeholder": _("Write a message…"),
        "send": _("Send"),
        "attach": _("Attach a file"),
        "emoji": _("Emoji"),
        "typing": _("%(name)s is typing…"),
        "someone": _("Support"),
        "online": _("We are online and usually reply in a few minutes."),
        "you": _("You"),
        "sending": _("Sending…"),
        "sent": _("Sent"),
        "read": _("Read"),
        "failed": _("Not sent. Tap to retry."),
        "offline": _("You are offline. Messages will be sent when the connection is back."),
        "reconnecting": _("Reconnecting…"),
        "away": _("We are away right now. Leave a message and we will reply here."),
        "rate_limited": _("You are sending messages too quickly. Please wait %(seconds)s seconds."),
        "file_too_large": _("The file is too large: the limit is %(mb)s MB."),
        "file_type": _("This type of file cannot be sent here."),
        "error": _("Something went wrong. Please try again."),
        "prechat_intro": _("Tell us a little about you to start the chat."),
        "name": _("Name"),
        "email": _("Email"),
        "phone": _("Phone"),
        "required": _("Required"),
        "invalid_email": _("Enter a valid email address."),
        "invalid_phone": _("Enter a phone number, e.g. +86 138 0013 8000."),
        "start": _("Start chat"),
        "lead_intro": _("Leave your details and we'll get back to you."),
        "lead_need": _("Leave an email address or a phone number."),
        "lead_thanks": _("Thank you! We'll get back to you soon."),
        "unread": _("%(count)s new messages"),
        "load_older": _("Load earlier messages"),
        "queue": _("You are number %(n)s in the queue."),
        "comment": _("Add a comment (optional)"),
        "rated": _("Thank you for your rating!"),
    }
