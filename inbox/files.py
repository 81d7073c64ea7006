"""Attachments: what may be uploaded, and signed links to read them.

The type is read from the file's first bytes, never trusted from the browser; a link is
signed for one attachment and expires, so only whoever was shown the message can open it.
"""

from dataclasses import dataclass

import filetype
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse
from django.utils.translation import gettext as _

LINK_SALT = "inbox.attachment"
LINK_MAX_AGE_SECONDS = 24 * 60 * 60
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


def attachment_url(attachment) -> str:
    token = signing.TimestampSigner(salt=LINK_SALT).sign(attachment.uuid.hex)
    return reverse("attachment-download", kwargs={"token": token})


def attachment_uuid_from_token(token: str) -> str | None:
    try:
        return signing.TimestampSigner(salt=LINK_SALT).unsign(token, max_age=LINK_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
