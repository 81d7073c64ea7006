"""Sending a reply through the channel's SMTP server, with the headers that keep it in the
customer's thread (Message-ID, In-Reply-To, References, "Re:" subject)."""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from email.utils import formataddr, make_msgid

from django.core.mail import EmailMessage, get_connection
from django.utils.translation import gettext

from ..base import OutboundMessage, PermanentError, SendResult, TransientError
from .config import TIMEOUT, MailSettings

MAX_REFERENCES = 20
MAX_TOTAL_BYTES = 25 * 1024 * 1024
# "Re:", "RE[2]:", "Aw:", "回复:" (any colon) at the start of a subject, any number of times.
REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|antw|vs|ref|回复|答复|回覆)\s*(?:\[\d+\])?\s*[:：]\s*)+", re.I
)
# What a message id may hold in our headers: no spaces, brackets or control characters.
SAFE_ID = re.compile(r"^[!-;=?-~]+$")


def subject_for(subject: str, replying: bool) -> str:
    subject = re.sub(r"\s+", " ", subject or "").strip()
    if not replying:
        return subject
    bare = REPLY_PREFIX.sub("", subject).strip()
    return f"Re: {bare}" if bare else "Re:"


def _ids(refs) -> list[str]:
    found = []
    for ref in refs:
        ref = str(ref).strip().strip("<>")
        if ref and SAFE_ID.match(ref) and ref not in found:
            found.append(ref)
    return found


def references_for(refs: list[str]) -> list[str]:
    """At most MAX_REFERENCES ids: the thread's first message and the latest ones."""
    if len(refs) <= MAX_REFERENCES:
        return refs
    return [refs[0], *refs[-(MAX_REFERENCES - 1) :]]


def message_build(settings: MailSettings, message: OutboundMessage) -> tuple[EmailMessage, str]:
    """The email to send and its Message-ID (without brackets)."""
    refs = _ids(message.thread_refs)
    reply_to = _ids([message.reply_to_external_id]) if message.reply_to_external_id else []
    in_reply_to = reply_to[0] if reply_to else (refs[-1] if refs else "")
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    msgid = make_msgid(domain=settings.domain)
    headers = {"Message-ID": msgid}
    if in_reply_to:
        headers["In-Reply-To"] = f"<{in_reply_to}>"
        headers["References"] = " ".join(f"<{ref}>" for ref in references_for(refs))
    sender = (
        formataddr((settings.display_name, settings.address))
        if settings.display_name
        else settings.address
    )
    email = EmailMessage(
        subject=subject_for(message.subject, bool(in_reply_to)),
        body=message.text,
        from_email=sender,
        to=[message.recipient],
        headers=headers,
    )
    for file in message.files:
        email.attach(file.name or "attachment", file.data, file.content_type or None)
    return email, msgid.strip("<>")


def connection_open(settings: MailSettings, timeout: float | None = None):
    return get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user if settings.smtp_password else "",
        password=settings.smtp_password,
        use_tls=settings.smtp_security == "starttls",
        use_ssl=settings.smtp_security == "ssl",
        timeout=timeout or TIMEOUT,
        fail_silently=False,
    )


def _server_text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def smtp_error(exc: BaseException) -> Exception:
    """The outbox's view of an SMTP failure: 4xx replies and network trouble are worth
    retrying; 5xx replies are the server refusing for good, with its own words."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (550, b""))
        reason = gettext("The mail server refused the recipient: %(code)s %(text)s") % {
            "code": code,
            "text": _server_text(text),
        }
        if 400 <= int(code) < 500:
            return TransientError(reason, code=str(code))
        return PermanentError(reason, code=str(code))
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientError(
            gettext("The mail server closed the connection: %(error)s") % {"error": exc},
            code="disconnected",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        reason = gettext("The mail server answered %(code)s %(text)s") % {
            "code": exc.smtp_code,
            "text": _server_text(exc.smtp_error),
        }
        if 400 <= exc.smtp_code < 500 or exc.smtp_code == -1:
            return TransientError(reason, code=str(exc.smtp_code))
        return PermanentError(reason, code=str(exc.smtp_code))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(
            gettext("The mail server does not support this: %(error)s. Check the SMTP security.")
            % {"error": exc},
            code="not_supported",
        )
    if isinstance(exc, ssl.SSLError):
        return PermanentError(
            gettext(
                "TLS with the mail server failed (%(error)s). Check the SMTP security setting "
                "and port."
            )
            % {"error": exc},
            code="tls",
        )
    if isinstance(exc, TimeoutError):
        return TransientError(gettext("The mail server did not answer in time."), code="timeout")
    if isinstance(exc, OSError):
        return TransientError(
            gettext("Could not reach the mail server: %(error)s") % {"error": exc},
            code="network",
        )
    if isinstance(exc, smtplib.SMTPException):
        return TransientError(str(exc), code="smtp")
    return TransientError(str(exc))


def smtp_send(settings: MailSettings, message: OutboundMessage) -> SendResult:
    if not settings.smtp_host or not settings.address:
        raise PermanentError(gettext("This email channel has no SMTP server or address set."))
    if not message.recipient or "@" not in message.recipient:
        raise PermanentError(
            gettext("“%(recipient)s” is not an email address.") % {"recipient": message.recipient}
        )
    total = sum(len(file.data) for file in message.files)
    if total > MAX_TOTAL_BYTES:
        raise PermanentError(
            gettext("The files add up to %(size)s MB; email takes at most 25 MB.")
            % {"size": round(total / 1024 / 1024, 1)}
        )
    email, msgid = message_build(settings, message)
    connection = connection_open(settings)
    try:
        connection.send_messages([email])
    except (smtplib.SMTPException, OSError) as exc:
        raise smtp_error(exc) from exc
    except ValueError as exc:  # Django's BadHeaderError, or an address it cannot encode
        raise PermanentError(
            gettext("The email could not be built: %(error)s") % {"error": exc}, code="invalid"
        ) from exc
    finally:
        with contextlib.suppress(Exception):  # closing after a failure must not hide it
            connection.close()
    return SendResult(external_id=msgid, status="sent")


def smtp_check(settings: MailSettings) -> tuple[bool, str]:
    """Connect, EHLO (and STARTTLS) and log in, then quit: can we send?"""
    if not settings.smtp_host:
        return False, gettext("SMTP: no server set.")
    connection = connection_open(settings, timeout=min(TIMEOUT, 15.0))
    try:
        connection.open()
        connection.close()
    except (smtplib.SMTPException, OSError) as exc:
        error = smtp_error(exc)
        return False, gettext("SMTP: %(error)s") % {"error": getattr(error, "reason", error)}
    return True, gettext("SMTP: signed in to %(host)s.") % {"host": settings.smtp_host}
