from django.contrib.auth.decorators import login_required
from django.shortcuts import render

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
