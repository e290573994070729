from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from security.logins import GuardedAuthenticationForm
from status import views

app_name = "status"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="status:boxes"), name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="status/login.html", next_page="status:boxes",
                                             authentication_form=GuardedAuthenticationForm),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="status:login"), name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/live", views.dashboard_live, name="dashboard-live"),
    path("boxes/", views.box_search, name="boxes"),
    path("boxes/<str:serial>/", views.box_detail, name="box"),
    path("boxes/<str:serial>/live", views.box_live, name="box-live"),
    path("boxes/<str:serial>/diagnostics/<int:upload_id>/<str:name>", views.box_diagnostics_file,
         name="box-diagnostics-file"),
]
