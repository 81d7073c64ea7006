from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common import views as common_views
from inbox import views as inbox_views


def admin_login(request, extra_context=None):
    """The admin signs in through the same login as everyone (rate limits, MFA); a
    signed-in user whose role does not open the admin site is refused, not looped."""
    if request.user.is_authenticated:
        raise PermissionDenied(_("Your role does not give access to the admin site."))
    return redirect_to_login(request.GET.get("next", "/admin/"))


admin.site.login = admin_login
admin.site.site_header = _("Switchboard administration")
admin.site.site_title = _("Switchboard")
admin.site.index_title = _("Back office")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:home", permanent=False)),
    path("healthz", common_views.healthz, name="healthz"),
    path("readyz", common_views.readyz, name="readyz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("console/", include("inbox.urls", namespace="console")),
    path("files/<str:token>/", inbox_views.attachment_download, name="attachment-download"),
    path("", include("channels_app.widget.urls")),
    path("webhooks/", include("channels_app.urls")),
    path("demo/", include("demo.urls")),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "common.views.not_found"
handler500 = "common.views.error"
