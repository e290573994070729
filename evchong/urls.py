from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from evchong import health
from evchong.api_urls import api_v1, reverse_v1
from security.logins import GuardedAdminAuthenticationForm

# Failed logins counted and a guessing source locked out, with the form saying so (security.logins).
admin.site.login_form = GuardedAdminAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("evchong-api/cperent/v1/", include("evchong_api.urls")),
    path("evchong-api/reverse/v1/", include(reverse_v1)),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    # Logins and topic checks for an external MQTT broker (kotodian.views).
    path("mqtt/", include("kotodian.urls")),
    path("", include("status.urls")),
]

handler404 = "core.api_errors.not_found"
handler500 = "core.api_errors.server_error"
