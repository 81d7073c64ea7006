from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import render

from .files import INLINE_TYPES, attachment_uuid_from_token
from .models import Attachment
from .selectors import conversation_list

CONSOLE_LIST_SIZE = 50


@login_required
def console_home(request):
    conversations = conversation_list(user=request.user).order_by("-last_message_at", "-created_at")
    return render(
        request,
        "inbox/console_home.html",
        {"conversations": conversations[:CONSOLE_LIST_SIZE], "role": request.user.role},
    )


def attachment_download(request, token: str):
    """Serves an attachment to whoever holds its signed link (issued with the message)."""
    attachment_uuid = attachment_uuid_from_token(token)
    attachment = (
        Attachment.objects.filter(uuid=attachment_uuid).first() if attachment_uuid else None
    )
    if attachment is None:
        raise Http404
    inline = attachment.content_type in INLINE_TYPES
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type,
        as_attachment=not inline,
        filename=attachment.name,
    )
    # Nothing in a served file may run as a page of ours.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
