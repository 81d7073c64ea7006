"""What static/console/composer_tools.js says: Reply / Note, @mentions, quotes and
canned replies in the console's composer."""

from django.utils.translation import gettext as _


def strings() -> dict[str, str]:
    """What static/console/composer_tools.js says, in the request's language."""
    return {
        # Reply / Note
        "ct_send_as": _("Send as"),
        "ct_mode_reply": _("Reply"),
        "ct_mode_note": _("Note"),
        "ct_mode_reply_title": _("Reply to the customer (Alt+N switches)"),
        "ct_mode_note_title": _("Private note, only staff see it (Alt+N switches)"),
        "ct_note_placeholder": _("Write a private note… type @ to mention a colleague or team"),
        "ct_note_on": _("Private note: the customer will not see it."),
        "ct_note_no_files": _(
            "Files cannot be added to a private note. Switch to Reply to send them."
        ),
        "ct_shortcut_toggle": _("Switch between reply and private note (in the composer)"),
        "ct_shortcut_mention": _("Mention a colleague or team (in a note)"),
        "ct_shortcut_canned": _("Insert a canned reply (in the composer)"),
        "ct_shortcut_cancel_quote": _("Stop replying to a quoted message (in the composer)"),
        # @mentions
        "ct_mentions": _("Mention a colleague or team"),
        "ct_team_members": _("Team · %(count)s members"),
        "ct_team_one_member": _("Team · 1 member"),
        "ct_mention_team": _("Mentions the team %(name)s"),
        "ct_mention_you": _("Mentions you"),
        "ct_mention_user": _("Mentions %(name)s"),
        "ct_no_people": _("No colleague or team matches “%(query)s”."),
        "ct_people_error": _("Colleagues and teams could not be loaded."),
        # Quotes
        "ct_quote": _("Reply"),
        "ct_quote_label": _("Reply to this message from %(name)s"),
        "ct_replying_to": _("Replying to %(name)s:"),
        "ct_quote_attachment": _("a file"),
        "ct_quote_cancel": _("Cancel the reply to this message (Escape)"),
        # Canned replies
        "ct_canned": _("Canned replies"),
        "ct_shared": _("Shared"),
        "ct_personal": _("Personal"),
        "ct_no_canned": _("No canned reply matches “/%(query)s”."),
        "ct_no_canned_yet": _("No canned replies yet."),
        "ct_canned_error": _("Canned replies could not be loaded."),
        "ct_canned_inserting": _("Inserting /%(shortcut)s…"),
        "ct_canned_render_error": _("/%(shortcut)s could not be inserted."),
        "ct_loading": _("Loading…"),
        "ct_retry": _("Try again"),
        "ct_suggestions": _("%(count)s suggestions: up and down arrows to choose, Enter to pick."),
        # Save as canned reply
        "ct_save_open": _("Save as canned reply"),
        "ct_save_title": _("Save the text as a personal canned reply"),
        "ct_save_shortcut": _("Shortcut"),
        "ct_save_name": _("Title (optional)"),
        "ct_save": _("Save"),
        "ct_cancel": _("Cancel"),
        "ct_save_empty": _("Write the text to save first."),
        "ct_save_no_shortcut": _("Type a shortcut, for example “thanks”."),
        "ct_saving": _("Saving…"),
        "ct_saved": _("Saved: type /%(shortcut)s to insert it."),
        "ct_save_failed": _("The canned reply could not be saved."),
    }
