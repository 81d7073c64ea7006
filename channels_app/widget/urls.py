from django.urls import path

from . import api, views

WIDGET_API = "widget/v1/<str:public_key>/"

urlpatterns = [
    path("widget.js", views.widget_loader, name="widget-loader"),
    path("widget/frame/<str:public_key>/", views.widget_frame, name="widget-frame"),
    path(WIDGET_API + "status/", api.WidgetStatusApi.as_view(), name="widget-status"),
    path(WIDGET_API + "session/", api.WidgetSessionApi.as_view(), name="widget-session"),
    path(WIDGET_API + "messages/", api.WidgetMessagesApi.as_view(), name="widget-messages"),
    path(WIDGET_API + "attachments/", api.WidgetAttachmentApi.as_view(), name="widget-attachments"),
    path(WIDGET_API + "read/", api.WidgetReadApi.as_view(), name="widget-read"),
    path(WIDGET_API + "typing/", api.WidgetTypingApi.as_view(), name="widget-typing"),
    path(WIDGET_API + "user/", api.WidgetUserApi.as_view(), name="widget-user"),
    path(WIDGET_API + "contact/", api.WidgetContactApi.as_view(), name="widget-contact"),
    path(WIDGET_API + "csat/", api.WidgetCsatApi.as_view(), name="widget-csat"),
]
