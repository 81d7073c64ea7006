"""Attachments: what may be uploaded, and signed links to read them.

The type is read from the file's first bytes, never trusted from the browser. A link is
signed for one attachment and one audience and expires; opening it checks the audience
against who asks, so a link that reaches someone else opens nothing.
"""

import time
import uuid
from dataclasses import dataclass

import filetype
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse
from django.utils.translation import gettext as _

from .enums import MessageDirection
from .models import Attachment
from .selectors import conversation_get

# Types browsers may show inline; anything else is served as a download.
INLINE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
TEXT_SUFFIXES = (".txt", ".log", ".csv", ".md")


class AttachmentRejected(ValueError):
    """The file may not be sent; the message says why, in words for the sender."""


@dataclass(frozen=True)
class AttachmentUpload:
    file: UploadedFile
    name: str
    content_type: str
    size: int


def attachment_check(
    upload: UploadedFile, *, allowed_types: list[str], max_bytes: int
) -> AttachmentUpload:
    if upload.size > max_bytes:
        raise AttachmentRejected(
            _("The file is too large: the limit is %(mb)s MB.") % {"mb": max_bytes // 2**20}
        )
    if upload.size == 0:
        raise AttachmentRejected(_("The file is empty."))
    content_type = _sniff(upload)
    if content_type not in allowed_types:
        raise AttachmentRejected(
            _("This type of file cannot be sent here. Allowed: %(types)s.")
            % {"types": ", ".join(allowed_types) or _("none")}
        )
    name = (upload.name or "file").replace("\\", "/").rsplit("/", 1)[-1][:200] or "file"
    return AttachmentUpload(file=upload, name=name, content_type=content_type, size=upload.size)


def _sniff(upload: UploadedFile) -> str:
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    # Plain text has no magic number: accept it when it is named as text (so markup such
    # as SVG or HTML is not let through as "text") and decodes as UTF-8.
    if not (upload.name or "").lower().endswith(TEXT_SUFFIXES):
        return "application/octet-stream"
    try:
        upload.read().decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    finally:
        upload.seek(0)
    return "text/plain"


# Links name their audience, and the download checks it against who asks (docs/api.md):
#   staff     a signed-in user (console session or API token) whom `conversation_get` still
#             lets see the conversation; when issued to one user, only that user.
#   visitor   the customer's side of one conversation, for what the customer is shown (no
#             private note). The widget shows files with <img src> and <a href>, which
#             cannot carry its `Authorization: Visitor` header, so the link itself is the
#             key: bound to the attachment and its conversation, both checked on download.
#   provider  a channel fetching a file of one of our replies, with no identity of its own:
#             only files of outbound messages that are not private, and for a short while.
LINK_SALT = "inbox.attachment.access"
LINK_MAX_AGE_SECONDS = 24 * 60 * 60
PROVIDER_LINK_MAX_AGE_SECONDS = 60 * 60
# Channels that fetch a file well after we send it: LINE loads an image when the customer
# first opens it, and an API channel's bridge is promised a day to download its files.
# (Kinds as stored on the channel: this app does not import the channels app.)
LATE_FETCH_CHANNEL_KINDS = {"line", "api"}
STAFF, VISITOR, PROVIDER = "s", "v", "p"


class AttachmentNotDeliverable(ValueError):
    """Only files of replies that go to the customer are given to a provider."""


@dataclass(frozen=True)
class AttachmentLink:
    audience: str
    attachment_uuid: uuid.UUID
    # staff: the user it was issued to, or None for any user who may see the conversation
    # (a push carries one payload to all of them); visitor: the conversation's id.
    bound_to: int | None
    age_seconds: float


def _link(payload: list) -> str:
    token = signing.TimestampSigner(salt=LINK_SALT).sign_object(payload)
    return reverse("attachment-download", kwargs={"token": token})


def attachment_url(attachment: Attachment, *, user=None) -> str:
    """A staff link, bound to `user` when the caller knows whom it is for."""
    user_id = user.pk if user is not None and user.is_authenticated else None
    return _link([STAFF, attachment.uuid.hex, user_id])


def visitor_attachment_url(attachment: Attachment) -> str:
    return _link([VISITOR, attachment.uuid.hex, attachment.message.conversation_id])


def provider_attachment_url(attachment: Attachment) -> str:
    message = attachment.message
    if message.private or message.direction != MessageDirection.OUTBOUND:
        raise AttachmentNotDeliverable(str(attachment.uuid))
    return _link([PROVIDER, attachment.uuid.hex, None])


def attachment_link_read(token: str) -> AttachmentLink | None:
    """What a link says, or None if it is forged, expired or not a link of ours."""
    signer = signing.TimestampSigner(salt=LINK_SALT)
    try:
        payload = signer.unsign_object(token, max_age=LINK_MAX_AGE_SECONDS)
        # The signature is good, so the timestamp before it is ours.
        signed_at = signing.b62_decode(token.rsplit(signer.sep, 2)[1])
        audience, attachment_hex, bound_to = payload
        attachment_uuid = uuid.UUID(hex=attachment_hex)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if audience not in (STAFF, VISITOR, PROVIDER):
        return None
    if bound_to is not None and type(bound_to) is not int:
        return None
    return AttachmentLink(audience, attachment_uuid, bound_to, time.time() - signed_at)


def attachment_for_link(*, token: str, user) -> Attachment | None:
    """The attachment a link opens for this requester (`user`: who signed in, possibly
    anonymous), or None: a refusal says nothing about whether the file exists."""
    link = attachment_link_read(token)
    if link is None:
        return None
    attachment = (
        Attachment.objects.select_related(
            "message__conversation__customer", "message__conversation__inbox__channel"
        )
        .filter(uuid=link.attachment_uuid)
        .first()
    )
    if attachment is None:
        return None
    message = attachment.message
    conversation = message.conversation
    if link.audience == STAFF:
        if user is None or not user.is_authenticated:
            return None
        if link.bound_to is not None and link.bound_to != user.pk:
            return None
        # Asked now, not when the link was issued: access lost since then closes it.
        if conversation_get(user=user, uuid=conversation.uuid) is None:
            return None
        return attachment
    if message.private:
        return None
    if link.audience == VISITOR:
        # A blocked customer's widget session is refused; so are their links.
        if link.bound_to != conversation.pk or conversation.customer.is_blocked:
            return None
        return attachment
    if message.direction != MessageDirection.OUTBOUND:
        return None
    channel = getattr(conversation.inbox, "channel", None)
    late = channel is not None and channel.kind in LATE_FETCH_CHANNEL_KINDS
    if link.age_seconds > (LINK_MAX_AGE_SECONDS if late else PROVIDER_LINK_MAX_AGE_SECONDS):
        return None
    return attachment
