from django.http import Http404
from django.shortcuts import render

from channels_app.models import ChannelAccount

from .services import DEMO_WIDGET_KEY


def demo_host_page(request):
    """A stand-in for a company's website with the widget embedded, to chat with yourself
    between this page and the console."""
    if not ChannelAccount.objects.filter(public_key=DEMO_WIDGET_KEY, is_active=True).exists():
        raise Http404("Run `manage.py seed_demo` to create the demo widget.")
    return render(request, "demo/host.html", {"widget_key": DEMO_WIDGET_KEY})
