"""Channel rules, checked before a reply is stored, and explained to the agent.

`reply_options` says what the console may offer for a conversation right now (is the
window open, until when, which templates, which limits); `reply_check` refuses a draft
that breaks a rule with a `ReplyBlocked` that names the rule and what to do instead.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.models import Conversation
from inbox.outbound import ReplyBlocked, ReplyDraft, ReplyPlan

from ..adapters import adapter_class, has_adapter
from ..adapters.base import ChannelRules
from ..enums import TemplateStatus
from ..models import ChannelAccount, MessageTemplate

HUMAN_AGENT_TAG = "HUMAN_AGENT"
REPLY_MODES = ("public", "private")
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


@dataclass
class ReplyOptions:
    kind: str
    delivers: bool
    window_hours: int | None = None
    window_open: bool = True
    window_closes_at: datetime.datetime | None = None
    # What may still be sent outside the window: "template", "message_tag" or "".
    outside_window: str = ""
    tag_allowed_until: datetime.datetime | None = None
    # Why free text cannot be sent now, and what to do instead ("" when it can).
    blocked_code: str = ""
    blocked_reason: str = ""
    hint: str = ""
    max_text_length: int | None = None
    media_limits: dict = field(default_factory=dict)
    max_files: int = 10
    reply_modes: list[str] = field(default_factory=list)
    templates: list[dict] = field(default_factory=list)


def channel_of(conversation: Conversation) -> ChannelAccount | None:
    channel = getattr(conversation.inbox, "channel", None)
    if channel is None or not has_adapter(channel.kind):
        return None
    return channel


def last_customer_message_at(conversation: Conversation) -> datetime.datetime | None:
    """When the customer last wrote to this account from this identity (any conversation):
    providers count their reply windows per person, not per conversation."""
    if conversation.identity_id is None:
        return conversation.last_inbound_at
    return Conversation.objects.filter(
        inbox_id=conversation.inbox_id, identity_id=conversation.identity_id
    ).aggregate(latest=Max("last_inbound_at"))["latest"]


def templates_usable(channel: ChannelAccount) -> list[MessageTemplate]:
    return list(channel.templates.filter(status=TemplateStatus.APPROVED).order_by("name"))


def _template_dict(template: MessageTemplate) -> dict:
    return {
        "id": template.pk,
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "body": template.body,
        "variables": template_variable_count(template.body),
    }


def template_variable_count(body: str) -> int:
    numbers = {int(n) for n in PLACEHOLDER.findall(body)}
    return max(numbers, default=0)


def reply_options(conversation: Conversation, *, now: datetime.datetime | None = None):
    channel = channel_of(conversation)
    if channel is None:
        return ReplyOptions(
            kind=getattr(getattr(conversation.inbox, "channel", None), "kind", ""), delivers=False
        )
    rules: ChannelRules = adapter_class(channel.kind).rules
    now = now or timezone.now()
    options = ReplyOptions(
        kind=channel.kind,
        delivers=True,
        window_hours=rules.reply_window_hours,
        outside_window=rules.outside_window,
        max_text_length=rules.max_text_length,
        media_limits=dict(rules.media_limits),
        max_files=rules.max_files,
        reply_modes=list(REPLY_MODES) if conversation.thread_key.startswith("comment:") else [],
    )
    if rules.outside_window == "template":
        options.templates = [_template_dict(t) for t in templates_usable(channel)]
    identity = conversation.identity
    if identity is not None and identity.details.get("following") is False:
        options.window_open = False
        options.blocked_code = "unsubscribed"
        options.blocked_reason = _(
            "The customer has unfollowed or blocked this account: messages cannot reach them."
        )
        options.hint = _("You can reply once they follow the account again.")
        return options
    if rules.reply_window_hours is None or options.reply_modes:
        return options
    last = last_customer_message_at(conversation)
    if last is not None:
        options.window_closes_at = last + datetime.timedelta(hours=rules.reply_window_hours)
        if rules.tag_window_hours:
            options.tag_allowed_until = last + datetime.timedelta(hours=rules.tag_window_hours)
    options.window_open = options.window_closes_at is not None and now < options.window_closes_at
    if options.window_open:
        return options
    options.blocked_code = "window_closed"
    hours = rules.reply_window_hours
    options.blocked_reason = _(
        "The customer last wrote more than %(hours)d hours ago, so this channel does not "
        "accept a free-form reply."
    ) % {"hours": hours}
    if rules.outside_window == "template":
        options.hint = (
            _("Send an approved template instead; the window opens again when they reply.")
            if options.templates
            else _(
                "Send an approved template instead: none is synced for this channel yet "
                "(an admin can sync them from the channel's page)."
            )
        )
    elif rules.outside_window == "message_tag":
        if options.tag_allowed_until and now < options.tag_allowed_until:
            options.hint = _(
                "You can still send it with the “human agent” tag until %(until)s."
            ) % {"until": timezone.localtime(options.tag_allowed_until).strftime("%Y-%m-%d %H:%M")}
        else:
            options.hint = _("You can reply once the customer writes again.")
    return options


def reply_check(conversation: Conversation, draft: ReplyDraft) -> ReplyPlan:
    """The plan for a draft that keeps the channel's rules; raises ReplyBlocked otherwise."""
    channel = channel_of(conversation)
    if channel is None:
        return ReplyPlan(body=draft.body, delivers=False, options=draft.options)
    rules: ChannelRules = adapter_class(channel.kind).rules
    state = reply_options(conversation)
    options = dict(draft.options)
    content: dict = {}
    body = draft.body
    if state.blocked_code == "unsubscribed":
        raise ReplyBlocked(state.blocked_code, state.blocked_reason, hint=state.hint)
    if draft.template:
        template, variables = _template_check(channel, rules, draft.template)
        body = _template_fill(template.body, variables)
        content["template"] = {
            "name": template.name,
            "language": template.language,
            "variables": variables,
        }
    else:
        _window_check(state, options)
        _text_check(rules, body, draft)
        _files_check(rules, draft)
    if state.reply_modes:
        mode = options.get("reply_mode") or "public"
        if mode not in REPLY_MODES:
            raise ReplyBlocked(
                "invalid_reply_mode", _("Reply to a comment in public or as a private message.")
            )
        options["reply_mode"] = mode
    if options:
        content["options"] = options
    return ReplyPlan(body=body, delivers=True, content=content, options=options)


def _window_check(state: ReplyOptions, options: dict) -> None:
    if state.window_open:
        options.pop("message_tag", None)
        return
    if (
        state.outside_window == "message_tag"
        and options.get("message_tag") == HUMAN_AGENT_TAG
        and state.tag_allowed_until
        and timezone.now() < state.tag_allowed_until
    ):
        return
    raise ReplyBlocked(
        state.blocked_code,
        state.blocked_reason,
        hint=state.hint,
        details={
            "window_closes_at": state.window_closes_at,
            "outside_window": state.outside_window,
        },
    )


def _text_check(rules: ChannelRules, body: str, draft: ReplyDraft) -> None:
    if len(body) > rules.max_text_length:
        raise ReplyBlocked(
            "too_long",
            _("This channel accepts at most %(max)d characters; the reply has %(len)d.")
            % {"max": rules.max_text_length, "len": len(body)},
            hint=_("Shorten it or split it into several messages."),
        )
    if draft.attachments and body and not rules.text_with_files:
        raise ReplyBlocked(
            "text_with_file",
            _("This channel sends a file without text."),
            hint=_("Send the text as its own message."),
        )


def media_limit(rules: ChannelRules, content_type: str) -> int | None:
    """The largest size a channel takes for a type: the exact type, else "major/*", else
    "*/*" (any type)."""
    limits = rules.media_limits
    if content_type in limits:
        return limits[content_type]
    return limits.get(content_type.split("/")[0] + "/*", limits.get("*/*"))


def _files_check(rules: ChannelRules, draft: ReplyDraft) -> None:
    if not draft.attachments:
        return
    if len(draft.attachments) > rules.max_files:
        raise ReplyBlocked(
            "too_many_files",
            _("This channel takes at most %(max)d files per message.") % {"max": rules.max_files},
        )
    if rules.files_by_url and not settings.PUBLIC_URL:
        raise ReplyBlocked(
            "files_need_public_url",
            _("This channel fetches files from a public link, and the server has no PUBLIC_URL."),
            hint=_("An admin can set PUBLIC_URL; meanwhile send the text alone."),
        )
    for upload in draft.attachments:
        limit = media_limit(rules, upload.content_type)
        if limit is None:
            raise ReplyBlocked(
                "file_type",
                _("This channel does not take %(type)s files.") % {"type": upload.content_type},
                hint=_("Allowed: %(types)s.") % {"types": ", ".join(rules.media_limits) or "—"},
            )
        if upload.size > limit:
            raise ReplyBlocked(
                "file_too_large",
                _("%(name)s is larger than this channel's limit of %(mb)s MB for %(type)s.")
                % {
                    "name": upload.name,
                    "mb": round(limit / 2**20, 1),
                    "type": upload.content_type,
                },
            )


def _template_check(
    channel: ChannelAccount, rules: ChannelRules, template: dict
) -> tuple[MessageTemplate, list[str]]:
    if rules.outside_window != "template":
        raise ReplyBlocked("templates_unsupported", _("This channel has no message templates."))
    chosen = (
        MessageTemplate.objects.filter(
            channel=channel, pk=template.get("id"), status=TemplateStatus.APPROVED
        ).first()
        if str(template.get("id", "")).isdigit()
        else None
    )
    if chosen is None:
        raise ReplyBlocked(
            "template_unknown",
            _("That template is not an approved template of this channel."),
            hint=_("Choose one of the channel's approved templates."),
        )
    variables = template.get("variables") or []
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise ReplyBlocked("template_variables", _("Template variables must be a list of texts."))
    variables = [v.strip() for v in variables]
    expected = template_variable_count(chosen.body)
    if len(variables) != expected:
        raise ReplyBlocked(
            "template_variables",
            _("The template “%(name)s” needs %(n)d values; %(given)d were given.")
            % {"name": chosen.name, "n": expected, "given": len(variables)},
        )
    for number, value in enumerate(variables, start=1):
        # WhatsApp refuses empty values, new lines, tabs and runs of spaces in variables.
        if not value or re.search(r"[\n\t]| {5,}", value):
            raise ReplyBlocked(
                "template_variables",
                _("Value {{%(n)d}} must be a single line of text, not empty.") % {"n": number},
            )
    return chosen, variables


def _template_fill(body: str, variables: list[str]) -> str:
    return PLACEHOLDER.sub(lambda m: variables[int(m.group(1)) - 1], body)
