"""Telegram Bot API (https://core.telegram.org/bots/api).

One bot is one channel. Telegram posts one `Update` per webhook call and signs nothing: it
repeats the `secret_token` we gave `setWebhook` in the X-Telegram-Bot-Api-Secret-Token
header. Only private chats are customers; groups and channels are ignored. A message is
known to Telegram by (chat id, message id), so our external ids are "<chat_id>:<message_id>".
"""

from __future__ import annotations

import json
import logging
import mimetypes
import posixpath
import re
import time
from dataclasses import replace

import httpx
from django.conf import settings as django_settings
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.enums import IdentityKind

from .base import (
    Adapter,
    ChannelRules,
    ConnectionCheck,
    ContactCard,
    ContactEvent,
    CredentialField,
    Event,
    FetchedMedia,
    Ignored,
    InboundMessage,
    Location,
    MediaRef,
    MessageEdit,
    OutboundFile,
    OutboundMessage,
    PayloadMalformed,
    PermanentError,
    Postback,
    RawEvent,
    Referral,
    Sender,
    SendResult,
    SignatureInvalid,
    TransientError,
    from_timestamp,
    json_body,
    request_send,
    retry_after_seconds,
    signatures_match,
)

MB = 1024 * 1024
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_TEXT = 4096
MAX_CAPTION = 1024
# sendPhoto takes photos up to 10 MB; anything else (or a bigger photo) goes as a document,
# up to the bot upload limit of 50 MB.
MAX_PHOTO = 10 * MB
MAX_UPLOAD = 50 * MB
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
# Files an agent may attach besides images, video and audio; Telegram itself takes any
# type as a document.
UPLOAD_TYPES = (
    "application/pdf",
    "application/zip",
    "text/plain",
    "text/csv",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
# The Bot API puts the token in the URL path, and httpx logs each request's URL at INFO.
BOT_TOKEN_IN_URL = re.compile(r"/(file/)?bot\d+:[A-Za-z0-9_-]+")


class BotTokenRedactor(logging.Filter):
    """Masks bot tokens in the lines httpx logs, so that no log holds a usable token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = BOT_TOKEN_IN_URL.sub(r"/\1bot[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, BotTokenRedactor) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(BotTokenRedactor())


class TelegramAdapter(Adapter):
    kind = "telegram"
    identity_kind = IdentityKind.TELEGRAM
    rules = ChannelRules(
        max_text_length=MAX_TEXT,
        media_limits=dict.fromkeys(("image/*", "video/*", "audio/*", *UPLOAD_TYPES), MAX_UPLOAD),
        reply_window_hours=None,
        # About 30 messages a second per bot (and about 1 a second per chat, which the
        # pace of one agent typing keeps us under).
        rate_per_second=30.0,
        # One file per message: an album (sendMediaGroup) cannot mix photos and documents.
        max_files=1,
        text_with_files=True,
    )
    fields = (
        CredentialField(
            name="bot_token",
            label=gettext_lazy("Bot token"),
            secret=True,
            help_text=gettext_lazy(
                "The token @BotFather gives for your bot (/newbot or /token), like 123456789:AAE…"
            ),
        ),
    )

    # Ingress ------------------------------------------------------------------------
    def verify(self, request) -> None:
        if not signatures_match(
            self.channel.webhook_secret or "", request.headers.get(SECRET_HEADER)
        ):
            raise SignatureInvalid("The Telegram secret token is missing or wrong.")

    def split(self, body: bytes, request) -> list[RawEvent]:
        update = json_body(body)
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise PayloadMalformed("A Telegram update has an integer update_id.")
        if "callback_query" in update:
            # A button press carries no time of its own: keep when it reached us.
            update = {**update, "received_at": int(time.time())}
        return [RawEvent(dedupe_key=f"update:{update_id}", payload=update)]

    def acknowledge(self, events: list[RawEvent]) -> HttpResponse:
        # The webhook answer may carry one Bot API call: stop the spinner on a pressed
        # button without a request of our own (Telegram returns no result for it).
        for event in events:
            callback = event.payload.get("callback_query")
            if isinstance(callback, dict) and callback.get("id"):
                return JsonResponse(
                    {"method": "answerCallbackQuery", "callback_query_id": str(callback["id"])}
                )
        return HttpResponse(status=200)

    def parse(self, payload: dict) -> list[Event]:
        try:
            return self._parse(payload)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # Well-formed JSON of a shape we did not expect: keep it, do not act on it.
            return [Ignored(f"Telegram update not understood: {exc!r}")]

    def _parse(self, update: dict) -> list[Event]:
        if "message" in update:
            return [self._message(update["message"])]
        if "edited_message" in update:
            return [self._edit(update["edited_message"])]
        if "callback_query" in update:
            return [self._callback(update["callback_query"], update.get("received_at"))]
        if "my_chat_member" in update:
            return [self._membership(update["my_chat_member"])]
        kinds = sorted(k for k in update if k not in ("update_id", "received_at"))
        return [Ignored(f"Telegram update of a kind we do not use: {', '.join(kinds)}")]

    def _sender(self, user: dict) -> Sender:
        name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
        details = {"username": user["username"]} if user.get("username") else {}
        return Sender(
            kind=self.identity_kind,
            value=str(user["id"]),
            name=name,
            language=user.get("language_code") or "",
            is_bot=bool(user.get("is_bot")),
            details=details,
        )

    def _not_a_customer(self, message: dict) -> Ignored | None:
        chat_type = (message.get("chat") or {}).get("type")
        if chat_type and chat_type != "private":
            return Ignored(f"Telegram {chat_type} chats are not served, only private chats.")
        user = message.get("from")
        if not isinstance(user, dict) or "id" not in user:
            return Ignored("Telegram message without a sender.")
        if user.get("is_bot"):
            return Ignored("Telegram message from a bot.")
        return None

    def _message(self, message: dict) -> Event:
        if ignored := self._not_a_customer(message):
            return ignored
        sender = self._sender(message["from"])
        text = message.get("text") or message.get("caption") or ""
        media: list[MediaRef] = []
        location = None
        contacts: tuple[ContactCard, ...] = ()
        sticker = ""
        extra: dict = {}

        if photos := message.get("photo"):
            largest = max(photos, key=lambda p: (p.get("file_size") or 0, p.get("width") or 0))
            media.append(
                MediaRef(
                    ref=largest["file_id"],
                    content_type="image/jpeg",
                    size=largest.get("file_size"),
                    kind="image",
                )
            )
        # An animation also fills `document`: look at it first.
        elif animation := message.get("animation"):
            media.append(_file_ref(animation, kind="video", default_type="video/mp4"))
        elif video := message.get("video") or message.get("video_note"):
            media.append(_file_ref(video, kind="video", default_type="video/mp4"))
        elif voice := message.get("voice"):
            media.append(_file_ref(voice, kind="voice", default_type="audio/ogg"))
        elif audio := message.get("audio"):
            media.append(_file_ref(audio, kind="audio", default_type="audio/mpeg"))
        elif document := message.get("document"):
            media.append(_file_ref(document, kind="file", default_type=""))
        elif stk := message.get("sticker"):
            sticker = stk.get("emoji") or "sticker"
            # Animated stickers are Lottie (.tgs) files no browser shows: keep the emoji.
            if not stk.get("is_animated"):
                video_sticker = bool(stk.get("is_video"))
                media.append(
                    MediaRef(
                        ref=stk["file_id"],
                        content_type="video/webm" if video_sticker else "image/webp",
                        size=stk.get("file_size"),
                        kind="sticker",
                    )
                )
        elif venue := message.get("venue"):
            point = venue["location"]
            location = Location(
                latitude=float(point["latitude"]),
                longitude=float(point["longitude"]),
                name=venue.get("title") or "",
                address=venue.get("address") or "",
            )
        elif point := message.get("location"):
            location = Location(
                latitude=float(point["latitude"]), longitude=float(point["longitude"])
            )
            if point.get("live_period"):
                extra["live_location"] = True
        elif contact := message.get("contact"):
            name = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
            phone = contact.get("phone_number") or ""
            contacts = (ContactCard(name=name, phones=(phone,) if phone else ()),)
            # A contact whose user_id is the sender's own is their Telegram account's
            # number, which Telegram verified: a proven phone.
            if phone and str(contact.get("user_id")) == sender.value:
                sender = _with_phone(sender, phone)
        elif not text:
            kinds = sorted(k for k in message if k in UNSUPPORTED_CONTENT)
            what = kinds[0] if kinds else "service"
            return Ignored(f"Telegram {what} message: not a kind we show.")

        if message.get("media_group_id"):
            extra["media_group_id"] = str(message["media_group_id"])
        referral = None
        # A t.me/<bot>?start=<payload> link opens the chat with "/start <payload>".
        if message.get("text", "").startswith("/start "):
            ref = message["text"][len("/start ") :].strip()
            if ref:
                referral = Referral(source="link", ref=ref)
        reply_to = ""
        if isinstance(original := message.get("reply_to_message"), dict):
            reply_to = _external_id(original)
        return InboundMessage(
            external_id=_external_id(message),
            sender=sender,
            sent_at=from_timestamp(message.get("date")),
            text=text,
            media=tuple(media),
            location=location,
            contacts=contacts,
            sticker=sticker,
            referral=referral,
            reply_to_external_id=reply_to,
            extra=extra,
        )

    def _edit(self, message: dict) -> Event:
        if ignored := self._not_a_customer(message):
            return ignored
        text = message.get("text") or message.get("caption")
        if text is None:
            # Live locations move by edits; they carry no text to correct.
            return Ignored("Telegram edit without text (e.g. a live location update).")
        return MessageEdit(
            external_id=_external_id(message),
            sender=self._sender(message["from"]),
            text=text,
            at=from_timestamp(message.get("edit_date") or message.get("date")),
        )

    def _callback(self, callback: dict, received_at) -> Event:
        message = callback.get("message") or {}
        chat_type = (message.get("chat") or {}).get("type")
        if chat_type and chat_type != "private":
            return Ignored(f"Telegram button pressed in a {chat_type} chat.")
        user = callback["from"]
        if user.get("is_bot"):
            return Ignored("Telegram button pressed by a bot.")
        data = callback.get("data")
        if data is None:
            return Ignored("Telegram callback without data (a game button).")
        title = ""
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        for row in keyboard:
            for button in row:
                if button.get("callback_data") == data:
                    title = button.get("text") or ""
                    break
            if title:
                break
        extra = {"message_external_id": _external_id(message)} if message.get("chat") else {}
        return InboundMessage(
            external_id=f"callback:{callback['id']}",
            sender=self._sender(user),
            sent_at=from_timestamp(received_at),
            postback=Postback(payload=str(data), title=title),
            extra=extra,
        )

    def _membership(self, update: dict) -> Event:
        chat_type = (update.get("chat") or {}).get("type")
        if chat_type != "private":
            return Ignored(f"Telegram bot membership change in a {chat_type} chat.")
        status = (update.get("new_chat_member") or {}).get("status")
        action = {"kicked": "unfollow", "member": "follow"}.get(status)
        if action is None:
            return Ignored(f"Telegram bot membership status {status!r}.")
        return ContactEvent(
            sender=self._sender(update["from"]),
            action=action,
            at=from_timestamp(update.get("date")),
        )

    def media_fetch(self, media: MediaRef) -> FetchedMedia:
        file = self._call("getFile", {"file_id": media.ref})
        path = file.get("file_path")
        if not path:
            raise PermanentError(_("Telegram gave no download path for this file."))
        url = f"{self._api()}/file/bot{self._token()}/{path}"
        with self.http() as client:
            response = request_send(client, "GET", url)
        if response.status_code != 200:
            raise self._error(response)
        # Telegram serves files as application/octet-stream: trust what the message said.
        content_type = (
            media.content_type
            or mimetypes.guess_type(path)[0]
            or response.headers.get("Content-Type", "").split(";")[0]
            or "application/octet-stream"
        )
        return FetchedMedia(
            data=response.content,
            content_type=content_type,
            name=media.name or posixpath.basename(path),
        )

    # Egress -------------------------------------------------------------------------
    def send(self, message: OutboundMessage) -> SendResult:
        chat_id = message.recipient
        reply = _reply_parameters(message.reply_to_external_id, chat_id)
        text = message.text or ""
        if not message.files:
            if not text:
                raise PermanentError(_("There is nothing to send."))
            return SendResult(external_id=_result_id(self._send_text(chat_id, text, reply)))
        file = message.files[0]
        first_id = ""
        caption = text
        if len(text) > MAX_CAPTION:
            # A caption holds 1,024 characters: a longer text goes first, on its own.
            first_id = _result_id(self._send_text(chat_id, text, reply))
            caption, reply = "", None
        result = self._send_file(chat_id, file, caption, reply)
        return SendResult(external_id=first_id or _result_id(result))

    def _send_text(self, chat_id: str, text: str, reply: dict | None) -> dict:
        body: dict = {"chat_id": chat_id, "text": text}
        if reply:
            body["reply_parameters"] = reply
        return self._call("sendMessage", body)

    def _send_file(self, chat_id: str, file: OutboundFile, caption: str, reply) -> dict:
        as_photo = file.content_type in PHOTO_TYPES and len(file.data) <= MAX_PHOTO
        method, field = ("sendPhoto", "photo") if as_photo else ("sendDocument", "document")
        data = {"chat_id": chat_id}
        if caption:
            data["caption"] = caption
        if reply:
            data["reply_parameters"] = json.dumps(reply)
        files = {field: (file.name or field, file.data, file.content_type or None)}
        return self._call(method, data=data, files=files)

    def test_connection(self) -> ConnectionCheck:
        try:
            me = self._call("getMe")
        except (TransientError, PermanentError) as exc:
            return ConnectionCheck(ok=False, message=exc.reason)
        return ConnectionCheck(
            ok=True, message=_("Connected to @%(name)s") % {"name": me.get("username", "")}
        )

    def connect(self, webhook_url: str) -> ConnectionCheck:
        check = self.test_connection()
        if not check.ok:
            return check
        try:
            self._call(
                "setWebhook",
                {
                    "url": webhook_url,
                    "secret_token": self.channel.webhook_secret,
                    "allowed_updates": ALLOWED_UPDATES,
                    "drop_pending_updates": False,
                },
            )
        except (TransientError, PermanentError) as exc:
            return ConnectionCheck(
                ok=False,
                message=_("Telegram refused the webhook: %(reason)s") % {"reason": exc.reason},
            )
        return ConnectionCheck(
            ok=True,
            message=_("%(check)s; webhook set to %(url)s")
            % {"check": check.message, "url": webhook_url},
        )

    # HTTP ---------------------------------------------------------------------------
    def _api(self) -> str:
        return django_settings.TELEGRAM_API_URL

    def _token(self) -> str:
        token = self.credentials.get("bot_token") or ""
        if not token:
            raise PermanentError(_("The Telegram bot token is not set."), code="config")
        return token

    def _call(self, method: str, body: dict | None = None, *, data=None, files=None) -> dict:
        """One Bot API method; its `result`, or the error it is worth."""
        url = f"{self._api()}/bot{self._token()}/{method}"
        with self.http() as client:
            if files is not None:
                response = request_send(client, "POST", url, data=data, files=files)
            else:
                response = request_send(client, "POST", url, json=body or {})
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code == 200 and isinstance(answer, dict) and answer.get("ok"):
            return answer.get("result") if isinstance(answer.get("result"), dict) else {}
        raise self._error(response, answer)

    def _error(self, response: httpx.Response, answer=None) -> Exception:
        if answer is None:
            try:
                answer = response.json()
            except ValueError:
                answer = None
        answer = answer if isinstance(answer, dict) else {}
        code = int(answer.get("error_code") or response.status_code)
        description = str(answer.get("description") or f"HTTP {response.status_code}")
        said = _("Telegram said: %(description)s") % {"description": description}
        if code == 429 or response.status_code == 429:
            wait = (answer.get("parameters") or {}).get("retry_after")
            retry_after = float(wait) if wait is not None else retry_after_seconds(response)
            return TransientError(said, retry_after=retry_after, code="429")
        if code >= 500 or response.status_code >= 500:
            return TransientError(said, code=str(code))
        lowered = description.lower()
        if "blocked by the user" in lowered:
            reason = _("The customer blocked the bot, so Telegram will not deliver to them.")
            return PermanentError(f"{reason} {said}", code="blocked")
        if "user is deactivated" in lowered:
            reason = _("The customer's Telegram account was deleted.")
            return PermanentError(f"{reason} {said}", code="deactivated")
        if "chat not found" in lowered:
            reason = _(
                "Telegram does not know this chat: the customer has not started the bot or "
                "has deleted the chat."
            )
            return PermanentError(f"{reason} {said}", code="chat_not_found")
        if "file is too big" in lowered:
            reason = _("Bots can download files of up to 20 MB only.")
            return PermanentError(f"{reason} {said}", code="too_big")
        if code == 401:
            reason = _("Telegram refused the bot token: check it with @BotFather.")
            return PermanentError(f"{reason} {said}", code="401")
        return PermanentError(said, code=str(code))


# Message contents we store but do not show (polls, dice, games, stories, payments...).
UNSUPPORTED_CONTENT = frozenset(
    {"poll", "dice", "game", "story", "invoice", "successful_payment", "paid_media", "giveaway"}
)


def _external_id(message: dict) -> str:
    return f"{message['chat']['id']}:{message['message_id']}"


def _file_ref(file: dict, *, kind: str, default_type: str) -> MediaRef:
    return MediaRef(
        ref=file["file_id"],
        content_type=file.get("mime_type") or default_type,
        name=file.get("file_name") or "",
        size=file.get("file_size"),
        kind=kind,
    )


def _with_phone(sender: Sender, phone: str) -> Sender:
    # Telegram gives the number in international form, with or without the "+".
    return replace(sender, phones=(phone if phone.startswith("+") else f"+{phone}",))


def _reply_parameters(external_id: str, chat_id: str) -> dict | None:
    chat, _sep, message_id = (external_id or "").rpartition(":")
    if not message_id.lstrip("-").isdigit() or chat != str(chat_id):
        return None
    # If the customer deleted the message, send anyway rather than fail.
    return {"message_id": int(message_id), "allow_sending_without_reply": True}


def _result_id(result: dict) -> str:
    # Sent is sent: a missing id must not make the outbox send it again.
    try:
        return _external_id(result)
    except (KeyError, TypeError):
        return ""
