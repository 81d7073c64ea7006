"""The private note the AI leaves when it hands over: what the customer needs, what was
tried, their mood and their contact details, so the agent need not read back."""

from django.utils.translation import gettext as _

from customers.enums import CONTACT_KINDS
from customers.models import Identity
from inbox.models import Conversation

from ..enums import HandoffReason, RunOutcome
from ..models import AgentRun

NEED_CHARS = 300


def _mood(score: float | None) -> str:
    if score is None:
        return _("unknown")
    if score <= -0.6:
        return _("angry (%(score).1f)") % {"score": score}
    if score < -0.2:
        return _("unhappy (%(score).1f)") % {"score": score}
    if score > 0.3:
        return _("happy (%(score).1f)") % {"score": score}
    return _("calm (%(score).1f)") % {"score": score}


def handoff_summary(*, conversation: Conversation, reason: str, understood, turn) -> str:
    need = " / ".join(message.body for message in turn.messages if message.body)[:NEED_CHARS]
    runs = list(AgentRun.objects.filter(conversation=conversation).order_by("created_at"))
    answered = sum(run.outcome == RunOutcome.ANSWERED for run in runs)
    asked = sum(run.outcome == RunOutcome.CLARIFIED for run in runs)
    titles = list(
        dict.fromkeys(citation.get("title", "") for run in runs for citation in run.citations or [])
    )
    tried = _("%(answers)s answers, %(questions)s questions back") % {
        "answers": answered,
        "questions": asked,
    }
    if titles:
        tried += " · " + _("sources: %(titles)s") % {"titles": ", ".join(titles[:5])}
    if turn.tool_results or any(run.tool_calls for run in runs):
        tools = {call.get("tool") for run in runs for call in run.tool_calls or []}
        tools |= {result.tool for result in turn.tool_results}
        tried += " · " + _("tools: %(tools)s") % {"tools": ", ".join(sorted(tools))}
    contacts = [
        f"{identity.get_kind_display()}: {identity.value}"
        for identity in Identity.objects.filter(
            customer_id=conversation.customer_id, kind__in=CONTACT_KINDS
        ).order_by("pk")[:6]
    ]
    lines = [
        _("AI handover: %(reason)s") % {"reason": HandoffReason(reason).label},
        _("Need: %(need)s") % {"need": need or "—"},
        _("Tried: %(tried)s") % {"tried": tried},
        _("Mood: %(mood)s") % {"mood": _mood(understood.emotion if understood else None)},
        _("Contact: %(contacts)s") % {"contacts": "; ".join(contacts) or "—"},
    ]
    if understood is not None and understood.intent:
        lines.insert(2, _("Intent: %(intent)s") % {"intent": understood.intent})
    if turn.error:
        lines.append(_("Error: %(error)s") % {"error": turn.error[:200]})
    return "\n".join(lines)
