from django.utils.translation import gettext as _


def strings() -> dict[str, str]:
    """What static/console/workflow.js says, in the request's language."""
    return {
        "wf_availability_title": _("Your availability: %(state)s"),
        "wf_notifications": _("Notifications"),
        "wf_notifications_unread": _("Notifications: %(count)s unread"),
        "wf_no_notifications": _("No notifications yet."),
        "wf_mark_all_read": _("Mark all read"),
        "wf_resolve": _("Resolve"),
        "wf_reopen": _("Reopen"),
        "wf_snooze": _("Snooze"),
        "wf_snooze_custom": _("Until a time you choose…"),
        "wf_snooze_until": _("Snooze until"),
        "wf_snooze_future": _("Choose a time in the future."),
        "wf_unsnooze": _("Wake up now"),
        "wf_more_actions": _("More actions"),
        "wf_mark_pending": _("Mark as pending (waiting on the customer)"),
        "wf_priority": _("Priority"),
        "wf_assign": _("Assign"),
        "wf_assign_me": _("Assign to me"),
        "wf_unassign": _("Unassign"),
        "wf_transfer": _("Transfer"),
        "wf_transfer_note": _("Note for the receiver"),
        "wf_transfer_note_hint": _("What they should know (staff only)"),
        "wf_filter_people": _("Find an agent or team"),
        "wf_nobody_found": _("Nobody matches."),
        "wf_choose_someone": _("Choose an agent or a team."),
        "wf_team_label": _("Team: %(name)s"),
        "wf_team_online": _("%(online)s of %(members)s online"),
        "wf_load": _("%(load)s / %(capacity)s conversations"),
        "wf_me": _("%(name)s (you)"),
        "wf_claim": _("Claim (only you reply)"),
        "wf_release": _("Release the claim"),
        "wf_break_claim": _("Break the claim"),
        "wf_break_claim_body": _(
            "%(name)s is replying to this conversation. Break their claim so others can reply?"
        ),
        "wf_claimed_by": _("%(name)s has claimed this conversation until %(time)s."),
        "wf_claimed_by_you": _("You have claimed this conversation until %(time)s."),
        "wf_tags": _("Tags"),
        "wf_tag_add": _("Add a tag and press Enter"),
        "wf_tag_remove": _("Remove the tag %(name)s"),
        "wf_save": _("Save"),
        "wf_merge": _("Merge"),
        "wf_merge_into": _("Merge into"),
        "wf_merge_explain": _(
            "This conversation's messages move to the end of the one you choose, and this "
            "one is resolved."
        ),
        "wf_merge_none": _("This customer has no other conversation you can see."),
        "wf_merge_choose": _("Choose the conversation to merge into."),
        "wf_shortcuts": _("Keyboard shortcuts"),
        "wf_key_resolve": _("Resolve or reopen"),
        "wf_key_reply": _("Write a reply"),
        "wf_key_help": _("Show the shortcuts"),
        "wf_close": _("Close"),
    }
