"""The seam between the inbox, which stores replies, and the channels that carry them.

`inbox` never imports `channels_app` (the import direction is customers ← inbox ←
channels_app), yet a reply and its outbox row must be written in one transaction, and a
channel's rules (WhatsApp's 24-hour window, length and file limits) must be checked
before anything is stored. So `channels_app` registers one `Courier` at startup and
`message_send` calls it: `plan` before the message is stored (refusing with `ReplyBlocked`),
`enqueue` in the same transaction after it. A conversation whose channel has no courier
(the website widget, which the realtime push serves) is planned as "nothing to deliver".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .files import AttachmentUpload
    from .models import Conversation, Message


class ReplyBlocked(Exception):
    """The channel does not accept this reply now. `code` is stable for clients, `message`
    says why and `hint` what the agent can do instead (e.g. send an approved template)."""

    def __init__(self, code: str, message: str, *, hint: str = "", details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.details = details or {}


@dataclass(frozen=True)
class ReplyDraft:
    body: str
    attachments: Sequence[AttachmentUpload] = ()
    # {"id": <MessageTemplate pk>, "variables": [...]} for a template outside the window.
    template: dict | None = None
    # Channel options the agent chose: {"message_tag": "HUMAN_AGENT"}, {"reply_mode": ...}.
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ReplyPlan:
    """How a checked reply goes out: `body` is what is stored and shown (a template's
    filled text), `content` its structured part, `delivers` whether an outbox row follows."""

    body: str
    delivers: bool
    content: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)


class Courier(Protocol):
    def plan(self, *, conversation: Conversation, draft: ReplyDraft) -> ReplyPlan: ...

    def enqueue(self, *, message: Message, plan: ReplyPlan) -> None: ...

    def retry(self, *, message: Message) -> None: ...


_courier: Courier | None = None


def courier_register(courier: Courier) -> None:
    global _courier
    _courier = courier


def reply_plan(*, conversation: Conversation, draft: ReplyDraft) -> ReplyPlan:
    if _courier is None:
        return ReplyPlan(body=draft.body, delivers=False, options=draft.options)
    return _courier.plan(conversation=conversation, draft=draft)


def reply_enqueue(*, message: Message, plan: ReplyPlan) -> None:
    if _courier is not None and plan.delivers:
        _courier.enqueue(message=message, plan=plan)


def reply_retry(*, message: Message) -> None:
    if _courier is not None:
        _courier.retry(message=message)
