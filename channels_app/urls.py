from django.urls import path

from .views import channel_webhook

urlpatterns = [
    path("<slug:kind>/<uuid:channel_uuid>/", channel_webhook, name="channel-webhook"),
]
